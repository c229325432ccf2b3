/**
 * The config key behind each resource the program registered under mocks: what a user edits to change
 * it. Every line of the plan's audit (plan/promises.ts auditResources, plan/resource-audit.ts) starts
 * with it, the resource's name after it: users fix config, not resources.
 */
import type { RecordedResource } from "./mocks";
import { archivePrefix } from "../regime/logs";
import { fileBackupPrefix } from "../regime/file-backups";
import { isCatchAll } from "../regime/retention";

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The config key a recorded resource carries, from its tags (Database, Task) or its name, else `resource <name>`. */
export function keyOf(r: RecordedResource): string {
  const tags = ((r.inputs as Inputs).tags ?? {}) as Record<string, string>;
  if (tags.Database) return `databases[${tags.Database}]`;
  if (tags.Task === "health-check") return "endpoints";
  // The overdue watcher's role grows with the State Manager associations it reads: the host groups'.
  if (tags.Task === "overdue-watch") return "logs.hostGroups";
  const group = /-logs-(.+)-document$/.exec(r.name)?.[1];
  if (group) return `logs.hostGroups[${group}]`;
  if (/-archive-writer$/.test(r.name)) return "logs.hostGroups";
  return `resource ${r.name}`;
}

/**
 * The config key of each component the regime declares (components/regime.ts), by its Pulumi type,
 * from the component's name (`<regime>-db-<id>`, `<regime>-redis-<id>`, `<regime>-tasks-pg<major>`):
 * the key whose items or settings make what the component holds. The regime's own resources (the
 * ECS cluster) and the overdue watcher's are named from `name`.
 */
const COMPONENT_KEYS: Record<string, (component: string, regime: string) => string> = {
  "regime:index:MaintenanceRegime": () => "name",
  "regime:alerting:AlertRouting": () => "alerting",
  "regime:backup:BackupVault": () => "backupVault",
  "regime:task:TaskImage": (c, regime) => `databases[].majorVersion (${c.slice(`${regime}-tasks-pg`.length)})`,
  "regime:database:DatabaseMaintenance": (c, regime) => `databases[${c.slice(`${regime}-db-`.length)}]`,
  "regime:redis:RedisHealth": (c, regime) => `redis[${c.slice(`${regime}-redis-`.length)}]`,
  "regime:health:HealthChecks": () => "endpoints",
  "regime:monitoring:HostAlarms": () => "hosts",
  "regime:logs:LogRotation": () => "logs",
  "regime:reminders:Reminders": () => "reminders",
  "regime:watch:OverdueWatch": () => "name",
  "regime:dashboard:Dashboard": () => "dashboard",
  "regime:mute:MuteRules": () => "mutes",
};

/**
 * The config key of each of `resources`: for each recorded resource, its own key (keyOf: tags, name); else the
 * key of a tagged resource of the same component; else, for a reminder's schedule and schedule group
 * (`<component>-<reminder>`), `reminders[<reminder>]`; for an overdue alarm (`...-<job>-overdue-...`),
 * the key of the job it watches; else the key of its nearest component (COMPONENT_KEYS); `resource
 * <name>` only for a resource outside every recorded component.
 */
export function configKeys(resources: RecordedResource[]): (r: RecordedResource) => string {
  const made = keysOf.get(resources);
  if (made) return made;
  const byParent = new Map<string, RecordedResource[]>();
  const components = new Map<string, RecordedResource>();
  const byName = new Map<string, number[]>();
  resources.forEach((r, i) => {
    const siblings = byParent.get(r.parent);
    if (siblings) siblings.push(r);
    else byParent.set(r.parent, [r]);
    if (!r.custom) components.set(r.name, r);
    const same = byName.get(r.name);
    if (same) same.push(i);
    else byName.set(r.name, [i]);
  });
  const regime = resources.find((r) => !r.custom && r.type === "regime:index:MaintenanceRegime")?.name ?? "";
  const memo = new Map<RecordedResource, string>();
  /** The first key of a tagged resource among a component's children, once per component. */
  const keyedChild = new Map<string, string | undefined>();
  const ancestors = (r: RecordedResource): RecordedResource[] => {
    const out: RecordedResource[] = [];
    for (let p = components.get(r.parent); p && !out.includes(p); p = components.get(p.parent)) out.push(p);
    return out;
  };
  /**
   * The job an overdue alarm `r` under the watcher `top` watches: the resource, outside the watcher,
   * of the longest name that `r`'s name holds followed by "-overdue" (of equal lengths, the one
   * registered first). Found among the names ending where a "-overdue" of `r`'s name begins.
   */
  const watchedJob = (r: RecordedResource, top: RecordedResource): RecordedResource | undefined => {
    const candidates: number[] = [];
    for (let end = r.name.indexOf("-overdue"); end >= 0; end = r.name.indexOf("-overdue", end + 1)) {
      for (let start = 0; start < end; start++) candidates.push(...(byName.get(r.name.slice(start, end)) ?? []));
    }
    return [...new Set(candidates)]
      .sort((a, b) => resources[b].name.length - resources[a].name.length || a - b)
      .map((i) => resources[i])
      .find((j) => j !== r && !ancestors(j).includes(top));
  };
  const resolve = (r: RecordedResource): string => {
    const own = keyOf(r);
    if (!own.startsWith("resource ")) return own;
    const parent = components.get(r.parent);
    if (parent && parent.type !== "regime:index:MaintenanceRegime") {
      if (!keyedChild.has(r.parent)) keyedChild.set(r.parent, (byParent.get(r.parent) ?? []).map(keyOf).find((k) => !k.startsWith("resource ")));
      const keyed = keyedChild.get(r.parent);
      if (keyed) return keyed;
    }
    const chain = ancestors(r);
    const top = chain.find((c) => COMPONENT_KEYS[c.type] && c.type !== "regime:index:MaintenanceRegime");
    if (top?.type === "regime:reminders:Reminders" && /^aws:scheduler\/(schedule|scheduleGroup):/.test(r.type) && r.name.startsWith(`${top.name}-`)) return `reminders[${r.name.slice(top.name.length + 1)}]`;
    if (top?.type === "regime:watch:OverdueWatch") {
      const job = watchedJob(r, top);
      if (job) return keyOfResource(job);
    }
    const c = chain.find((x) => COMPONENT_KEYS[x.type]);
    return c ? COMPONENT_KEYS[c.type](c.name, regime) : own;
  };
  const keyOfResource = (r: RecordedResource): string => {
    let k = memo.get(r);
    if (k === undefined) memo.set(r, (k = resolve(r)));
    return k;
  };
  keysOf.set(resources, keyOfResource);
  return keyOfResource;
}

/** configKeys of a list of resources, made once for the audits that read it. */
const keysOf = new WeakMap<RecordedResource[], (r: RecordedResource) => string>();

/** A lifecycle rule of a bucket as the plan keeps it: what S3 selects by (regime/retention.ts keptFor), and the config key that made it. */
export interface PlanLifecycleRule {
  id: string;
  status: string;
  filter?: { prefix?: string };
  expiration?: { days?: number };
  noncurrentVersionExpiration?: { noncurrentDays?: number };
  /**
   * The config key whose data the rule's prefix holds: a configured item's (`databases[<id>].backup.retention.<tier>`,
   * `databases[<id>]` for its drill records, `logs.hostGroups[<g>].logSets[<s>].archive`, `logs.hostGroups[<g>].fileBackups[<f>]`),
   * or, for a catch-all rule (regime/retention.ts isCatchAll), the family whose removed items it expires
   * (`databases`, `logs.hostGroups`); absent for a whole-bucket rule of neither (and for catch-alls in older plans).
   */
  key?: string;
}

/** The lifecycle rules of one bucket's lifecycle configuration (its Pulumi resource name). */
export interface PlanLifecycle {
  resource: string;
  rules: PlanLifecycleRule[];
  /** The config key that sets every rule's `noncurrentDays` (the backup vault's `backupVault.noncurrentDays`); absent when fixed (the log archive's 1 day, components/log-archive.ts ARCHIVE_NONCURRENT_DAYS) and in older plans. */
  noncurrentKey?: string;
}

/** `<tier>-<db>` and `drills-<db>` (components/backup-vault.ts tierRules, drillRecordRule). */
const VAULT_RULE = /^(daily|weekly|monthly|drills)-(.+)$/;

/** The component type of the backup vault (components/backup-vault.ts), whose lifecycle configuration is its child. */
const VAULT_TYPE = "regime:backup:BackupVault";

/**
 * The lifecycle rules of every bucket of the plan, each with the config key behind its prefix: a
 * log archive prefix (regime/logs.ts archivePrefix, regime/file-backups.ts fileBackupPrefix) from the
 * `logs` config as given, a backup vault prefix from its rule's id, a catch-all rule its family's
 * (`databases` in the vault, `logs.hostGroups` in the log archive). The pull-request diff compares
 * them prefix by prefix (plan/diff.ts lifecycleChanges): what S3 keeps of each stored prefix in the
 * base and in the head, whatever made it change.
 */
export function lifecycleOf(recorded: RecordedResource[], logs: { hostGroups?: { name: string; logSets?: { name: string; archive?: { expireDays: number; prefix?: string } }[]; fileBackups?: { name: string }[] }[] } | undefined): PlanLifecycle[] {
  const byPrefix = new Map<string, string>();
  for (const g of logs?.hostGroups ?? []) {
    for (const s of g.logSets ?? []) if (s.archive) byPrefix.set(archivePrefix(g.name, s), `logs.hostGroups[${g.name}].logSets[${s.name}].archive`);
    for (const b of g.fileBackups ?? []) byPrefix.set(fileBackupPrefix(g.name, b.name), `logs.hostGroups[${g.name}].fileBackups[${b.name}]`);
  }
  const vaults = new Set(recorded.filter((r) => !r.custom && r.type === VAULT_TYPE).map((r) => r.name));
  const keyOfRule = (r: Inputs, vault: boolean): string | undefined => {
    if (isCatchAll(String(r.id))) return vault ? "databases" : "logs.hostGroups";
    const rule = vault && r.id && r.filter?.prefix ? VAULT_RULE.exec(r.id) : null;
    if (rule) return rule[1] === "drills" ? `databases[${rule[2]}]` : `databases[${rule[2]}].backup.retention.${rule[1]}`;
    return r.filter?.prefix ? byPrefix.get(r.filter.prefix) : undefined;
  };
  return recorded
    .filter((r) => r.type === "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    .map((r) => {
      const vault = vaults.has(r.parent);
      return {
        resource: r.name,
        rules: ((r.inputs.rules ?? []) as Inputs[])
          .filter((x) => x.expiration?.days !== undefined)
          .map((x) => {
            const key = keyOfRule(x, vault);
            return {
              id: String(x.id),
              status: String(x.status),
              filter: { prefix: x.filter?.prefix ?? "" },
              expiration: { days: x.expiration.days },
              ...(x.noncurrentVersionExpiration ? { noncurrentVersionExpiration: { noncurrentDays: x.noncurrentVersionExpiration.noncurrentDays } } : {}),
              ...(key ? { key } : {}),
            };
          }),
        ...(vault ? { noncurrentKey: "backupVault.noncurrentDays" } : {}),
      };
    })
    .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
}
