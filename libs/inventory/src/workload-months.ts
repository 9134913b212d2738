import { Prisma } from '@portcullis/db';

const DAY_MS = 86_400_000;

/**
 * The per-workload month rows of one policy that overlap a window of whole UTC days, with
 * where the window falls in each: `b` is the window index of the month's first day
 * (negative when the window starts later in the month), `lo`..`hi` the month's days inside
 * the window and `rlo` its first day on or after `readyFrom`. With `t` the running totals
 * (admissions_through), a row's admissions in the window are `t[hi] - coalesce(t[lo - 1], 0)`.
 * `condition`: what else the rows must satisfy (tenant, decisions, readable scopes, ...).
 */
export function workloadMonthsInWindow(
  policyId: string,
  window: { from: Date; to: Date; readyFrom?: Date },
  condition: Prisma.Sql,
): Prisma.Sql {
  const from = window.from.getTime();
  const days = Math.round((window.to.getTime() - from) / DAY_MS);
  const readyIndex = window.readyFrom ? Math.round((window.readyFrom.getTime() - from) / DAY_MS) : 0;
  const firstMonth = new Date(Date.UTC(window.from.getUTCFullYear(), window.from.getUTCMonth(), 1));
  return Prisma.sql`(
    SELECT cluster_id, namespace, owner_kind, owner_name, rule_id, decision, cloud_scope_id, admissions_through AS t, last_at, b,
           greatest(1, 1 - b) AS lo, least(31, ${days}::int - b) AS hi, greatest(1, 1 - b, ${readyIndex}::int + 1 - b) AS rlo
    FROM (
      SELECT *, round((date_part('epoch', month) - ${from / 1000}::float8) / 86400)::int AS b
      FROM admission_workload_months
      WHERE policy_id = ${policyId} AND month >= ${firstMonth} AND month < ${window.to} AND ${condition}
    ) months
  )`;
}
