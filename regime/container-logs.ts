/**
 * Container output into CloudWatch log groups through Docker's `awslogs` logging driver, set per
 * docker-compose service (its `logging:` block) or per named container (`docker run --log-driver`).
 *
 * Why the awslogs driver per container, and not the two other ways a host could ship container output:
 *
 * - The CloudWatch agent reading the json-file logs (`/var/lib/docker/containers/<id>/<id>-json.log`)
 *   sees container ids, which change at every `docker compose up`, not service names, so it cannot put
 *   a service into its own group; and every line it ships is Docker's wrapper
 *   `{"log":"<the app's line>\n","stream":"stdout","time":…}`, so a log group's JSON filters
 *   (`{ $.level = "error" }`, the defaults of `format: json`) never match the application's own fields.
 * - `awslogs` as the daemon's default driver in `daemon.json` takes one `awslogs-group` for every
 *   container of the host: no group per service, so no alarm per service.
 *
 * With the driver set per container, Docker itself writes each container's lines, unchanged, to its
 * group (one stream per container, `<container name>/<container id>`), and the log group's metric
 * filters and alarms apply as to any other group. `docker logs` and `docker compose logs` keep working:
 * Docker 20.10 and later keep a local cache of the latest output of a container whose driver cannot be
 * read back ("dual logging": 5 files of 20 MB by default; docs.docker.com, "Use docker logs with remote
 * logging drivers").
 *
 * The driver runs in non-blocking mode with a 4 MB buffer: when CloudWatch Logs cannot be reached, the
 * application never stalls on a write to stdout and its container still starts; lines beyond the
 * buffer are dropped from CloudWatch (the dual-logging cache still has them). The regime creates each
 * group with its retention, so the driver does not create groups (`awslogs-create-group` false).
 * dockerd sends with the host's credentials: the instance role on EC2 (attach the group's
 * `containerLogWriterPolicyArns` policy), AWS credentials in dockerd's environment elsewhere.
 *
 * The compose file is the application's, not the regime's: the regime renders the blocks to add and
 * its host run checks that each running container logs where it should (regime/logrotate.ts).
 */
import { stringify } from "yaml";
import type { ContainerRef, HostGroup, LogGroupConfig } from "./logs";

/** Bytes the awslogs driver buffers in non-blocking mode before it drops lines. */
export const AWSLOGS_BUFFER = "4m";

/** Stream name template: the container's name and id (a recreated container writes a new stream). */
export const AWSLOGS_STREAM_TAG = "{{.Name}}/{{.ID}}";

export interface ContainerLogging {
  container: ContainerRef;
  logGroup: string;
  /** The `logging:` of a compose service, or the `--log-driver`/`--log-opt` of `docker run`. */
  driver: "awslogs";
  options: Record<string, string>;
}

/**
 * The awslogs options of one container of log group `lg` in `region`: the group, the region, the
 * stream tag, non-blocking mode, no group creation, and the group's multi-line rule
 * (`multiLineStartPattern` as `awslogs-multiline-pattern`; `{timestamp_format}` as
 * `awslogs-datetime-format` with the group's `timestampFormat`, the same strftime directives).
 */
export function awslogsOptions(lg: Pick<LogGroupConfig, "name" | "multiLineStartPattern" | "timestampFormat">, region: string): Record<string, string> {
  const multiline: Record<string, string> =
    lg.multiLineStartPattern === "{timestamp_format}" && lg.timestampFormat
      ? { "awslogs-datetime-format": lg.timestampFormat }
      : lg.multiLineStartPattern
        ? { "awslogs-multiline-pattern": lg.multiLineStartPattern }
        : {};
  return {
    "awslogs-region": region,
    "awslogs-group": lg.name,
    "awslogs-create-group": "false",
    tag: AWSLOGS_STREAM_TAG,
    mode: "non-blocking",
    "max-buffer-size": AWSLOGS_BUFFER,
    ...multiline,
  };
}

/** Every container of a host group with the log group it ships to and its driver options, in declared order. */
export function containerLogging(g: Pick<HostGroup, "logGroups">, region: string): ContainerLogging[] {
  return g.logGroups.flatMap((lg) => lg.containers.map((container) => ({ container, logGroup: lg.name, driver: "awslogs" as const, options: awslogsOptions(lg, region) })));
}

/**
 * What to add where, for a host group: a docker-compose override (`services.<service>.logging`, to
 * merge into the compose file or pass as one more `-f` file) for its compose services, and the
 * `docker run` flags of its named containers, as comment lines. Undefined when the group ships no
 * container. Compose recreates a service whose logging changed at the next `docker compose up -d`.
 */
export function renderContainerLogging(g: Pick<HostGroup, "name" | "logGroups">, region: string): string | undefined {
  const all = containerLogging(g, region);
  if (all.length === 0) return undefined;
  const services = Object.fromEntries(
    all.filter((c) => c.container.service !== undefined).map((c) => [c.container.service!, { logging: { driver: c.driver, options: c.options } }]),
  );
  const named = all.filter((c) => c.container.name !== undefined);
  const lines = [
    `# Container output of host group ${g.name} into CloudWatch Logs (Docker awslogs driver); generated by maintenance-regime.`,
    "# Merge into the compose file (or add it as one more -f file to every docker compose command), then: docker compose up -d",
  ];
  for (const c of named) {
    const flags = Object.entries(c.options).map(([k, v]) => `--log-opt ${k}='${v}'`);
    lines.push(`# docker run --name ${c.container.name} --log-driver awslogs ${flags.join(" ")} ...`);
  }
  return `${lines.join("\n")}\n${Object.keys(services).length > 0 ? stringify({ services }) : ""}`;
}
