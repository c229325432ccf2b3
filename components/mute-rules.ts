/**
 * Maintenance windows and one-off mutes: CloudWatch alarm mute rules (`aws.cloudwatch.AlarmMuteRule`)
 * over the alarms the regime created. A muted alarm still evaluates and changes state; only its
 * actions (the SNS pages) are held back while the rule is active (CloudWatch User Guide, "Alarm mute
 * rules", and "How alarm mute rules work": an alarm still in ALARM when the rule ends has its action run then,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-mute-rules-behaviour.html). The schedules and the split at 100 alarms per rule are regime/maintenance-windows.ts's.
 *
 * Which alarms exist is known only once the components are built: `AlarmCatalog.transformation`,
 * given to the regime's root component, sees every resource registered under it (Pulumi resource
 * transformations run for a resource and all its children) and records each alarm's name, severity
 * and the components above it. A window or mute naming an alarm or component the regime does not
 * have is refused, one line naming the key.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SEVERITIES, type Severity } from "./alarms";
import { chunks, muteSchedule, windowProblem, windowSchedules, type MuteConfig, type MuteSchedule } from "../regime/maintenance-windows";
import { RegimeConfigError, type MuteTargets } from "../regime/load";
import type { Regime } from "../regime/schema";

/** One alarm of the regime as the catalogue saw it registered. */
export interface CatalogAlarm {
  name: string;
  severity?: Severity;
  /** Names of the components above it, nearest first. */
  components: string[];
  /** false: it notifies nobody by itself (a composite alarm's window): never worth a mute slot. */
  notifies: boolean;
}

const ALARM_TYPES = new Set(["aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm"]);

/** Records the alarms and components registered under the component whose transformations include `transformation`. */
export class AlarmCatalog {
  readonly alarms: CatalogAlarm[] = [];
  readonly components = new Set<string>();
  private readonly names = new Map<pulumi.Resource, string>();
  private readonly parents = new Map<pulumi.Resource, pulumi.Resource | undefined>();

  readonly transformation: pulumi.ResourceTransformation = (a) => {
    this.names.set(a.resource, a.name);
    this.parents.set(a.resource, a.opts.parent);
    if (!(a.resource instanceof pulumi.CustomResource)) this.components.add(a.name);
    if (ALARM_TYPES.has(a.type)) {
      const props = a.props as { name?: unknown; alarmName?: unknown; tags?: Record<string, unknown>; alarmActions?: unknown };
      const name = a.type.includes("composite") ? props.alarmName : props.name;
      if (typeof name === "string") {
        const sev = props.tags?.Severity;
        const components: string[] = [];
        for (let p = a.opts.parent; p; p = this.parents.get(p)) {
          const n = this.names.get(p);
          if (n) components.push(n);
        }
        this.alarms.push({
          name,
          severity: (SEVERITIES as readonly unknown[]).includes(sev) ? (sev as Severity) : undefined,
          components,
          notifies: !(Array.isArray(props.alarmActions) && props.alarmActions.length === 0),
        });
      }
    }
    return undefined;
  };
}

export interface MuteRulesArgs {
  /** Regime name: prefix of every rule name. */
  regime: string;
  /** The regime's maintenance windows, their schedules as the config loader resolved them. */
  windows: Regime["maintenanceWindows"];
  mutes: MuteConfig[];
  /** The run's reference date: windows that need one rule per occurrence start from it; a mute over by then is left out. */
  reference: Date;
  alarms: CatalogAlarm[];
  components: ReadonlySet<string>;
  tags?: Record<string, string>;
}

/** The selection of a window or mute, with its config key for refusals. */
interface Selection {
  key: string;
  alarms: string[];
  severities: Severity[];
  components: string[];
}

/**
 * The alarm names a selection mutes, sorted (stable rule contents), with one refusal line per alarm
 * or component it names that the regime does not have. Alarms that notify nobody are left out.
 */
export function selectAlarms(sel: Selection, alarms: CatalogAlarm[], components: ReadonlySet<string>): { names: string[]; problems: string[] } {
  const problems = targetProblems(sel, alarms, components);
  const names = alarms
    .filter((a) => a.notifies && (sel.alarms.includes(a.name) || (a.severity && sel.severities.includes(a.severity)) || a.components.some((c) => sel.components.includes(c))))
    .map((a) => a.name);
  return { names: [...new Set(names)].sort(), problems };
}

/**
 * One line per alarm or component a window or mute names that the regime does not have, keyed
 * `maintenanceWindows[0].alarms[1]`; entries left undefined (a problem of their own) are skipped.
 */
export function targetProblems(t: MuteTargets, alarms: CatalogAlarm[], components: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const known = new Set(alarms.map((a) => a.name));
  t.alarms.forEach((n, i) => {
    if (n !== undefined && !known.has(n)) problems.push(`${t.key}.alarms[${i}]: no alarm named "${n}" in this regime (the plan lists them)`);
  });
  t.components.forEach((c, i) => {
    if (c !== undefined && !components.has(c)) problems.push(`${t.key}.components[${i}]: no component named "${c}" in this regime; components: ${[...components].sort().join(", ")}`);
  });
  return problems;
}

export class MuteRules extends pulumi.ComponentResource {
  /** Rule name -> its schedule and alarm names, for outputs and the plan. */
  public readonly rules: { name: string; schedule: MuteSchedule; alarmNames: string[] }[] = [];

  constructor(name: string, args: MuteRulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:mute:MuteRules", name, {}, opts);
    const problems: string[] = [];
    // `perOccurrence`: a window written as one at() rule per start, named by its date and time.
    const planned: { base: string; description: string; schedules: MuteSchedule[]; names: string[]; perOccurrence: boolean }[] = [];

    args.windows.forEach((w, i) => {
      const key = `maintenanceWindows[${i}]`;
      const s = w.schedule;
      // The loader checked the wall clock; the Scheduler's calendar over the 12 months after the
      // reference date also sees the 23-hour day of a daylight-saving change.
      const overlap = windowProblem(s, w.durationMinutes, args.reference);
      if (overlap) problems.push(`${key}.${overlap.key}: ${overlap.message}`);
      const sel = selectAlarms({ key, alarms: w.alarms, severities: w.severities, components: w.components }, args.alarms, args.components);
      problems.push(...sel.problems);
      const description = `Maintenance window ${w.name}: ${s.description} (${s.timezone}) for ${w.durationMinutes} min${w.reason ? `: ${w.reason}` : ""}`;
      planned.push({ base: `${args.regime}-mw-${w.name}`, description, schedules: windowSchedules(s, w.durationMinutes, args.reference), names: sel.names, perOccurrence: true });
    });

    args.mutes.forEach((m, i) => {
      const key = `mutes[${i}]`;
      const sel = selectAlarms({ key, alarms: m.alarms, severities: m.severities, components: m.components }, args.alarms, args.components);
      problems.push(...sel.problems);
      const s = muteSchedule(m, args.reference);
      if (s && "problem" in s) problems.push(`${key}.until: ${s.problem}`);
      else if (s) planned.push({ base: `${args.regime}-mute-${i}`, description: `Muted until ${m.until}: ${m.reason}`, schedules: [s], names: sel.names, perOccurrence: false });
    });
    if (problems.length > 0) throw new RegimeConfigError(problems);

    for (const p of planned) {
      const groups = chunks(p.names);
      for (const s of p.schedules) {
        // One rule per occurrence (at()) and per 100 alarms: `-<yyyymmdd-hhmm>` and `-<n>` tell them apart.
        const when = p.perOccurrence && s.start ? `-${/^at\((\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)\)$/.exec(s.expression)!.slice(1).join("").replace(/^(\d{8})/, "$1-")}` : "";
        groups.forEach((alarmNames, g) => {
          const ruleName = `${p.base}${when}${groups.length > 1 ? `-${g + 1}` : ""}`;
          new aws.cloudwatch.AlarmMuteRule(
            ruleName,
            {
              name: ruleName,
              description: p.description,
              rule: { schedule: { expression: s.expression, duration: s.duration, timezone: s.timezone } },
              muteTargets: { alarmNames },
              tags: args.tags,
            },
            { parent: this },
          );
          this.rules.push({ name: ruleName, schedule: s, alarmNames });
        });
      }
    }
    this.registerOutputs({});
  }
}
