-- The two database roles of alice-report-ingestor. Run once per database, before the first
-- migration, by an administrator (a role with CREATEROLE that owns the database or is a
-- superuser), with psql:
--
--   psql "postgresql://admin@db:5432/alice_report_ingestor" -v ON_ERROR_STOP=1 \
--     -v migrator_password="$MIGRATOR_PASSWORD" -v runtime_password="$RUNTIME_PASSWORD" \
--     -f deploy/k8s/database-roles.sql
--
-- alice_ingestor_migrator  the migration Job (Secret alice-report-ingestor-migration): owns the
--                          schema's objects, may create and alter them (DDL).
-- alice_ingestor_runtime   the service (Secret alice-report-ingestor): reads and writes rows,
--                          nothing else: no CREATE, ALTER, DROP or TRUNCATE.
--
-- Default privileges grant the runtime its data rights on every table and sequence the
-- migrator creates from now on, so migrations carry no GRANTs and need no setting naming the
-- runtime role. The GRANTs ... ON ALL at the end cover tables migrated before this file ran.

CREATE ROLE alice_ingestor_migrator LOGIN PASSWORD :'migrator_password';
CREATE ROLE alice_ingestor_runtime LOGIN PASSWORD :'runtime_password';

SELECT current_database() AS database \gset
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO alice_ingestor_migrator;
GRANT CONNECT ON DATABASE :"database" TO alice_ingestor_runtime;

-- Only the migrator creates objects in the schema (PostgreSQL before 15 let every role do so).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO alice_ingestor_migrator;
GRANT USAGE ON SCHEMA public TO alice_ingestor_runtime;

ALTER DEFAULT PRIVILEGES FOR ROLE alice_ingestor_migrator IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO alice_ingestor_runtime;
ALTER DEFAULT PRIVILEGES FOR ROLE alice_ingestor_migrator IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO alice_ingestor_runtime;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO alice_ingestor_runtime;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO alice_ingestor_runtime;
