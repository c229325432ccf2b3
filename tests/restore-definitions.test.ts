/**
 * The roles a backup's statements need, read from pg_restore's script before a restore changes
 * anything: owners and grants (skipped with --no-owner), and the roles that row-level security
 * policies, user mappings and default privileges name. A role only a policy or a user mapping names
 * is needed even with --no-owner (pg_restore keeps those statements).
 */
import { describe, expect, it } from "vitest";
import { readDefinitions } from "../tasks/lib/restore-backup";

describe("readDefinitions: every role the backup's statements name", () => {
  it("policies, user mappings and default privileges' grantees, beside owners and grants", () => {
    const script = [
      "ALTER TABLE public.orders OWNER TO app_owner;",
      "GRANT SELECT ON TABLE public.orders TO app_reader;",
      "CREATE POLICY tenant_only ON public.orders TO app_tenant, \"Odd Role\" USING ((tenant = CURRENT_USER));",
      "CREATE POLICY all_rows ON public.orders AS PERMISSIVE FOR SELECT TO PUBLIC USING (true);",
      "CREATE USER MAPPING FOR fdw_user SERVER remote OPTIONS (\n    \"user\" 'x'\n);",
      "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA public GRANT SELECT ON TABLES TO app_reporting;",
      "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner REVOKE ALL ON FUNCTIONS FROM PUBLIC;",
      "CREATE USER MAPPING FOR public SERVER remote;",
    ].join("\n");
    const d = readDefinitions(script);
    expect(d.owners).toEqual(["app_owner"]);
    expect(d.grantees).toEqual(["app_owner", "app_reader", "app_reporting"]);
    expect(d.required).toEqual(["Odd Role", "app_tenant", "fdw_user"]);
  });
});
