/**
 * The environment a component may hand a scheduled task, typed from the task's own settings schema
 * (type-only imports: no task code is loaded by the program). A component that sets a variable the
 * task does not read fails to compile.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ScheduledTaskName } from "../tasks/catalogue";
import type { TaskDefinition } from "../tasks/lib/runtime";
import type { TaskDefinitions } from "../tasks/registry";

/** Each task's definition, by catalogue name: the registry's own table (tasks/registry.ts). */
type Definitions = TaskDefinitions;

/** Keys of a zod object schema (through pipes: `in`). */
type ShapeKeys<S> = S extends { shape: infer Sh } ? Extract<keyof Sh, string> : S extends { in: infer I } ? ShapeKeys<I> : never;

/** The settings variables task `N` reads from its own schema. */
export type TaskSettingKey<N extends ScheduledTaskName> = Definitions[N] extends TaskDefinition<infer S, infer _R> ? ShapeKeys<S> : never;

/**
 * Settings every task's runtime reads besides its own schema: TASK, REGIME_NAME, METRICS_NAMESPACE and
 * METRICS_INSTANCE (tasks/lib/runtime.ts createContext), RUN_METRICS (tasks/lib/metrics.ts),
 * RUN_MARKER_BUCKET and RUN_MARKER_PREFIX (tasks/lib/run-marker.ts). ScheduledTask sets the first
 * five itself.
 */
export type RuntimeSettingKey = "TASK" | "REGIME_NAME" | "METRICS_NAMESPACE" | "METRICS_INSTANCE" | "RUN_METRICS" | "RUN_MARKER_BUCKET" | "RUN_MARKER_PREFIX";

/** What task `N` may be handed: its own settings and the runtime's, each a string (JSON for structured ones). */
export type TaskEnvironment<N extends ScheduledTaskName> = { [K in TaskSettingKey<N> | RuntimeSettingKey]?: pulumi.Input<string> };

/**
 * The settings variables every task of `N` reads (`N` a union of task names): what one setting shared
 * by all of them may hold. `SharedSettingKey<DbTaskName>` is DATABASES and the session settings the
 * database tasks have in common.
 */
export type SharedSettingKey<N extends ScheduledTaskName> = { [M in N]: (key: TaskSettingKey<M>) => void }[N] extends (key: infer K) => void ? K : never;
