/*
 * e2e_asleep.c — a million flows asleep for days, in seconds.
 *
 * Starting them through the API would take minutes per run, so one flow of
 * e2e_nap is started through the API (by the caller) as a template and
 * then copied n times in one transaction: its instance row and every row of
 * every other table that carries its instance_id (history and whatever the
 * schema of the binary under test keeps per instance), column by column as
 * the live schema has them, so new columns of a newer schema are copied
 * too. Copies differ from the template only in id, business key
 * (asleep<g>), wake time (spread over a week, days ahead), owner (none) and
 * lease epoch (0); the flow's waiting count in flow_counts grows by n
 * whatever its key (one row of the flow's 'waiting' counts is raised).
 *
 * Invariants: settled is not running while this runs (the copies are no
 * node's, as after a restart); the copies never wake during a benchmark.
 */
#include <stdio.h>

#include "e2e_bench.h"
#include "e2e_http.h"

/* A column's value in a copy: t is the template row, g the copy's number. */
static const char COPY_EXPR[] =
    "CASE c.column_name"
    " WHEN 'id' THEN $q$('01890000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid$q$"
    " WHEN 'instance_id' THEN"
    "  $q$('01890000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid$q$"
    " WHEN 'business_key' THEN $q$'asleep' || g$q$"
    " WHEN 'wake_at' THEN $q$t.wake_at + (g % 604800) * interval '1 second'$q$"
    " WHEN 'owner_node' THEN 'NULL'"
    " WHEN 'lease_epoch' THEN '0'"
    " WHEN 'created_at' THEN 'now()'"
    " WHEN 'updated_at' THEN 'now()'"
    " ELSE 't.' || quote_ident(c.column_name) END";

static const char FILL_SQL[] =
    "DO $fill$\n"
    "DECLARE\n"
    "  copies bigint := %zu;\n"
    "  tid uuid;\n"
    "  tbl record;\n"
    "  cols text;\n"
    "  exprs text;\n"
    "BEGIN\n"
    "  SELECT id INTO STRICT tid FROM instances\n"
    "   WHERE flow = 'e2e_nap' AND business_key = 'nap_template' AND status = 'waiting';\n"
    "  FOR tbl IN SELECT c.relname, a.attname AS key FROM pg_class c\n"
    "      JOIN pg_attribute a ON a.attrelid = c.oid\n"
    "     WHERE c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition\n"
    "       AND c.relkind IN ('r', 'p') AND NOT a.attisdropped\n"
    "       AND ((c.relname = 'instances' AND a.attname = 'id')\n"
    "            OR (c.relname <> 'instances' AND a.attname = 'instance_id'))\n"
    "  LOOP\n"
    "    SELECT string_agg(quote_ident(c.column_name), ', ' ORDER BY c.ordinal_position),\n"
    "           string_agg(%s, ', ' ORDER BY c.ordinal_position)\n"
    "      INTO cols, exprs\n"
    "      FROM information_schema.columns c\n"
    "     WHERE c.table_schema = current_schema() AND c.table_name = tbl.relname\n"
    "       AND c.is_generated = 'NEVER' AND c.is_identity = 'NO'\n"
    "       AND coalesce(c.column_default, '') NOT LIKE 'nextval(%%';\n"
    "    EXECUTE format('INSERT INTO %%I (%%s) SELECT %%s FROM %%I t, generate_series(1, $1) g'\n"
    "                   ' WHERE t.%%I = $2', tbl.relname, cols, exprs, tbl.relname, tbl.key)\n"
    "      USING copies, tid;\n"
    "  END LOOP;\n"
    "  UPDATE flow_counts SET n = flow_counts.n + copies\n"
    "   WHERE ctid = (SELECT ctid FROM flow_counts\n"
    "                  WHERE flow = 'e2e_nap' AND status = 'waiting' LIMIT 1);\n"
    "  IF NOT FOUND THEN\n"
    "    INSERT INTO flow_counts (flow, status, n) VALUES ('e2e_nap', 'waiting', copies);\n"
    "  END IF;\n"
    "END\n"
    "$fill$";

void e2e_asleep_fill(e2e_stack_t *st, size_t n)
{
    static char sql[8192];
    double t0 = e2e_mono_s();
    snprintf(sql, sizeof sql, FILL_SQL, n, COPY_EXPR);
    e2e_exec(st, sql);
    e2e_exec(st, "VACUUM (ANALYZE) instances");
    e2e_exec(st, "ANALYZE");
    double asleep = e2e_scalar(st, "SELECT count(*) FROM instances WHERE flow = 'e2e_nap' "
                                   "AND status = 'waiting' AND wake_at > now() + interval '1 day'");
    if (asleep < (double)n + 1)
        e2e_die("asleep", "the copies of the sleeping template are not all there");
    printf("asleep: %zu flows put to sleep for days in %.1f s\n", n, e2e_mono_s() - t0);
}
