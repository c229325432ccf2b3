/**
 * ARN forms, one place for the config (regime/primitives.ts arnOf: exact forms, refused with the key)
 * and the tasks (a secret's ARN in their settings and options). Plain regular expressions, no imports:
 * task bundles take it without zod's config schemas or Pulumi.
 */

/**
 * A secret's name as Secrets Manager allows it: up to 512 of `A-Za-z0-9/_+=.@-` (AWS Secrets Manager
 * User Guide, "Secret ARN"), after an optional `<service>!` that a secret another AWS service manages
 * carries (`rds!db-<uuid>`, `rds!cluster-<uuid>`: the master user secret RDS creates with
 * ManageMasterUserPassword, holding username and password only).
 */
const SECRET_NAME = "(?:[a-z0-9-]{1,32}!)?[A-Za-z0-9/_+=.@-]{1,512}";
/** The 6 random characters Secrets Manager appends to a secret's name in its ARN. */
const SECRET_SUFFIX = "-[A-Za-z0-9]{6}";

/**
 * `*` (any run of characters) and `?` (any one character) are wildcards wherever IAM matches a string:
 * in a Resource ARN and in the values of String/Arn condition operators ("IAM JSON policy elements:
 * Resource", "Condition operators"). A config value that lands there must not carry them, or it
 * widens the grant beyond the one resource it names.
 */
export const IAM_WILDCARD = /[*?]/;

/** One form of ARN: its service, whether it names a region and account, and its resource part. */
export interface ArnForm {
  /** What the ARN names, for messages ("Secrets Manager secret"). */
  label: string;
  /** The service segment (`secretsmanager`). */
  service: string;
  /** Regional ARNs carry `<region>:<12-digit account>`; S3 bucket ARNs carry neither. */
  regional: boolean;
  /** The resource segment, after `arn:<partition>:<service>:<region>:<account>:`. */
  resource: RegExp;
  /** The shape as written in messages. */
  shape: string;
}

/**
 * The ARN forms the regime accepts in config, one place for all of them. Sources: AWS Secrets Manager
 * User Guide, "Secret ARN" (name of up to 512 characters `A-Za-z0-9/_+=.@-`, then `-` and 6 random
 * characters); AWS KMS Developer Guide, "Key ARN" (key/<key id: UUID or mrk-<32 hex>>); Amazon SNS
 * "CreateTopic" (topic name 1-256 letters, digits, `_` and `-`, `.fifo` for FIFO topics).
 */
export const ARN_FORMS = {
  secretsManagerSecret: {
    label: "Secrets Manager secret",
    service: "secretsmanager",
    regional: true,
    resource: new RegExp(`^secret:${SECRET_NAME}${SECRET_SUFFIX}$`),
    shape: "arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf",
  },
  kmsKey: {
    label: "KMS key",
    service: "kms",
    regional: true,
    resource: /^key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/,
    shape: "arn:aws:kms:<region>:<account>:key/<key id>",
  },
  snsTopic: {
    label: "SNS topic",
    service: "sns",
    regional: true,
    resource: /^[A-Za-z0-9_-]{1,256}(\.fifo)?$/,
    shape: "arn:aws:sns:<region>:<account>:<topic name>",
  },
} as const satisfies Record<string, ArnForm>;

/** AWS partitions (aws, China, GovCloud) and commercial/GovCloud/China region names (us-east-1, us-gov-west-1, cn-north-1). */
const PARTITION = /^aws(-cn|-us-gov)?$/;
/**
 * The partition of every ARN the program writes (its policies, alarm ARNs, key policies: `arn:aws:...`):
 * a config ARN of another partition (aws-cn, aws-us-gov) names nothing the stack's roles can reach,
 * and IAM matches no grant on it.
 */
export const STACK_PARTITION = "aws";
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;

/** A whole-string pattern's body, to compose it into a longer one. */
const body = (re: RegExp) => re.source.replace(/^\^/, "").replace(/\$$/, "");

/**
 * What is wrong with `value` as an ARN of `form`, or undefined when it names exactly one such
 * resource: the partition is aws/aws-cn/aws-us-gov, the service is the form's, region and account are
 * well formed (12 digits), the resource part has the form's exact shape, and nothing anywhere is an
 * IAM wildcard (`*`, `?`).
 */
export function arnProblem(value: string, form: ArnForm): string | undefined {
  const exact = `must be the full ARN of a ${form.label} (${form.shape})`;
  if (IAM_WILDCARD.test(value)) return `must name one ${form.label}: "*" and "?" are IAM wildcards and would grant every match`;
  const parts = value.split(":");
  if (parts.length < 6 || parts[0] !== "arn" || !PARTITION.test(parts[1])) return exact;
  if (parts[1] !== STACK_PARTITION) {
    return `is in partition ${parts[1]}, but the program provisions in partition ${STACK_PARTITION} (its policies name arn:${STACK_PARTITION}:... ARNs): the tasks' roles could never read it; use a ${form.label} of partition ${STACK_PARTITION}`;
  }
  const [, , service, region, account] = parts;
  const resource = parts.slice(5).join(":");
  if (service !== form.service) return `${exact}, not an ARN of ${service || "no service"}`;
  if (form.regional) {
    if (!REGION.test(region)) return `${exact}: "${region}" is not a region`;
    if (!ACCOUNT.test(account)) return `${exact}: "${account}" is not a 12-digit account id`;
  } else if (region || account) return exact;
  if (!form.resource.test(resource)) return form === ARN_FORMS.secretsManagerSecret ? `${exact}, with the 6-character suffix` : exact;
  return undefined;
}

/** The whole ARN of `form` as one regular expression (for the JSON Schema editors read). */
export function arnPattern(form: ArnForm): string {
  const where = form.regional ? `${body(REGION)}:${body(ACCOUNT)}` : ":";
  return `^arn:${STACK_PARTITION}:${form.service}:${where}:${body(form.resource)}$`;
}

/**
 * Why the stack's tasks cannot read Secrets Manager secret `arn` (a well-formed ARN, arnProblem) from
 * account `account` (12 digits, the stack's: STS GetCallerIdentity), or undefined when it is the
 * stack's own. Another region is read: the tasks call Secrets Manager in the secret's own region
 * (tasks/lib/secrets.ts secretRegion). Another account is refused: its secret is readable only when
 * its resource policy names the reading role and it is encrypted with a customer-managed KMS key
 * whose key policy lets that role decrypt (AWS Secrets Manager User Guide, "Access AWS Secrets
 * Manager secrets from a different account"); the program grants its roles GetSecretValue on the ARN
 * and no kms:Decrypt on another account's key, so such a read fails.
 */
export function secretAccountProblem(arn: string, account: string): string | undefined {
  const owner = arn.split(":")[4];
  if (owner === undefined || owner === account) return undefined;
  return `the secret is in account ${owner}, not the stack's ${account}: the program grants its roles secretsmanager:GetSecretValue only, and another account's secret is readable only with a resource policy naming the role and a customer-managed KMS key whose key policy lets the role decrypt (no kms:Decrypt on another account's key is granted); copy the secret into account ${account}`;
}

/**
 * A Secrets Manager secret's ARN as a task accepts it: the config's form (ARN_FORMS.secretsManagerSecret:
 * partition, region, 12-digit account, `secret:` and the name) with the 6-character suffix optional.
 * GetSecretValue finds a secret by such a partial ARN, which a person running a task by hand may type
 * (`npm run task -- restore --target`, `--headers-secret-arn`); the config requires the suffix because
 * IAM grants match the ARN exactly, so what the program hands a task always has it.
 */
export const SECRET_ARN = new RegExp(`^arn:${body(PARTITION)}:secretsmanager:${body(REGION)}:${body(ACCOUNT)}:secret:${SECRET_NAME}(${SECRET_SUFFIX})?$`);

/**
 * The ARN of CloudWatch alarm `name` (or a name prefix ending in `*`, as an IAM Resource) in `region`
 * and `account`, partition aws: `arn:aws:cloudwatch:<region>:<account>:alarm:<name>`.
 */
export function alarmArn(region: string, account: string, name: string): string {
  return `arn:${STACK_PARTITION}:cloudwatch:${region}:${account}:alarm:${name}`;
}
