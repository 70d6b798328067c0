package schema

// migrations are append-only: a released migration never changes (Apply
// compares checksums); a change to the schema is a new migration.
var migrations = []Migration{
	{
		Version: 1,
		Name:    "registry, history, demo events, predictions",
		Statements: []string{
			// The demo source table: one partition per dataset and day, rows in
			// time order. Any table shaped like this can be a model's source.
			`CREATE TABLE IF NOT EXISTS {ks}.events (
				dataset text, day date, ts timestamp, id uuid,
				tenure_months int, monthly_charges double, support_calls int,
				logins_30d int, avg_session_minutes double, payment_delays int,
				plan text, region text, device text,
				churned boolean,
				PRIMARY KEY ((dataset, day), ts, id))`,

			// Immutable trained versions, newest first. Metadata that is read
			// together is stored together; JSON columns hold structured
			// documents (schema, params, metrics, reference profile).
			`CREATE TABLE IF NOT EXISTS {ks}.model_versions (
				model text, version timeuuid,
				candidate text, algorithm text, params text,
				run_id text, workflow_id text,
				window_from timestamp, window_to timestamp,
				train_rows bigint, holdout_rows bigint,
				feature_schema text, profile text, metrics text,
				artifact_sha256 text, artifact_size bigint, artifact_chunks int,
				train_seconds double, created_at timestamp,
				PRIMARY KEY ((model), version))
				WITH CLUSTERING ORDER BY (version DESC)`,

			// Artifact bytes in chunks of at most 1 MiB, one partition per version.
			`CREATE TABLE IF NOT EXISTS {ks}.model_artifacts (
				model text, version timeuuid, chunk int, data blob,
				PRIMARY KEY ((model, version), chunk))`,

			// The champion pointer: the single source of truth, changed only by
			// lightweight transactions on (version, generation). Since
			// migration 3 the pointer and the ledger live in champion_ledger;
			// champions and promotions are no longer written or read.
			`CREATE TABLE IF NOT EXISTS {ks}.champions (
				model text PRIMARY KEY,
				version timeuuid, generation bigint,
				promoted_at timestamp, promoted_by text, reason text, run_id text)`,

			// Append-only promotion ledger, one row per generation.
			`CREATE TABLE IF NOT EXISTS {ks}.promotions (
				model text, generation bigint,
				version timeuuid, previous_version timeuuid, action text,
				promoted_at timestamp, promoted_by text, reason text, run_id text,
				PRIMARY KEY ((model), generation))
				WITH CLUSTERING ORDER BY (generation DESC)`,

			// One decision record per retrain run, including "no change".
			`CREATE TABLE IF NOT EXISTS {ks}.evaluations (
				model text, evaluated_at timeuuid,
				run_id text, workflow_id text, reason text,
				outcome text, winner timeuuid, champion timeuuid, generation bigint,
				window_from timestamp, window_to timestamp,
				train_rows bigint, holdout_rows bigint,
				decision text,
				PRIMARY KEY ((model), evaluated_at))
				WITH CLUSTERING ORDER BY (evaluated_at DESC)`,

			`CREATE TABLE IF NOT EXISTS {ks}.drift_reports (
				model text, computed_at timeuuid,
				champion timeuuid, generation bigint,
				window_from timestamp, window_to timestamp,
				rows bigint, drifted boolean, max_psi double, drifted_features int,
				retrain_started boolean, report text,
				PRIMARY KEY ((model), computed_at))
				WITH CLUSTERING ORDER BY (computed_at DESC)`,

			// Batch predictions, one partition per model and day; a re-run
			// overwrites the same rows.
			`CREATE TABLE IF NOT EXISTS {ks}.predictions (
				model text, day date, id uuid,
				ts timestamp, version timeuuid, generation bigint,
				predicted text, score double, run_id text, scored_at timestamp,
				PRIMARY KEY ((model, day), id))`,
		},
	},
	{
		Version: 2,
		Name:    "shadow pointer and shadow predictions",
		Statements: []string{
			// The shadow pointer: the version `kingmaker serve` scores beside
			// the champion, set by a retrain run for its shadow period (or by
			// `kingmaker shadow --set`) and cleared at its end.
			`CREATE TABLE IF NOT EXISTS {ks}.shadows (
				model text PRIMARY KEY,
				version timeuuid, since timestamp, until timestamp,
				started_by text, reason text)`,

			// Champion and shadow predictions of the same sampled live rows,
			// one partition per model, shadow version and day, read in time
			// order by the shadow report. Rows expire after 90 days: they are
			// evidence for a shadow period (policy.shadow.period is at most 30d).
			`CREATE TABLE IF NOT EXISTS {ks}.shadow_predictions (
				model text, shadow_version timeuuid, day date,
				ts timestamp, request_id text, row int,
				champion_version timeuuid, generation bigint,
				champion_class text, champion_score double,
				shadow_class text, shadow_score double,
				row_id text, features text,
				PRIMARY KEY ((model, shadow_version, day), ts, request_id, row))
				WITH default_time_to_live = 7776000`,
		},
	},
	{
		Version: 3,
		Name:    "checksums of artifact chunks and of version rows, shadow pointer changes",
		Statements: []string{
			// The SHA-256 of each chunk's bytes, checked as the chunk is read,
			// so a damaged chunk is named (older chunks have none and rely on
			// the artifact's own SHA-256).
			`ALTER TABLE {ks}.model_artifacts ADD IF NOT EXISTS sha256 text`,
			// The SHA-256 of a version's identity fields (see
			// registry.Version.MetadataSHA256), checked on every read of the
			// row, so an edited version row is refused rather than served.
			`ALTER TABLE {ks}.model_versions ADD IF NOT EXISTS metadata_sha256 text`,
			// Who set or cleared a model's shadow pointer, when and why,
			// newest first: the pointer row itself is deleted by a clear.
			`CREATE TABLE IF NOT EXISTS {ks}.shadow_changes (
				model text, changed_at timeuuid,
				action text, version timeuuid, changed_by text, reason text,
				PRIMARY KEY ((model), changed_at))
				WITH CLUSTERING ORDER BY (changed_at DESC)`,
		},
	},
	{
		Version: 4,
		Name:    "shadow_predictions.actor",
		Statements: []string{
			// The authenticated client that sent a shadowed row (a token's
			// name or a client certificate's subject), so that the evidence
			// of a shadow period says whose traffic it is.
			`ALTER TABLE {ks}.shadow_predictions ADD IF NOT EXISTS actor text`,
		},
	},
	{
		Version: 5,
		Name:    "champion pointer and promotion ledger in one partition",
		Statements: []string{
			// The champion pointer (static columns) and the promotion ledger
			// (one row per generation, newest first) of a model in one
			// partition, so one conditional UPDATE moves the pointer and writes
			// the ledger row of the new generation atomically. request_id names
			// the promotion request that wrote a row, so a retry recognises
			// its own success.
			`CREATE TABLE IF NOT EXISTS {ks}.champion_ledger (
				model text, generation bigint,
				champion_version timeuuid static, champion_generation bigint static,
				version timeuuid, previous_version timeuuid, action text,
				promoted_at timestamp, promoted_by text, reason text, run_id text, request_id text,
				PRIMARY KEY ((model), generation))
				WITH CLUSTERING ORDER BY (generation DESC)`,
		},
		Copy: &Copy{Name: "copy champions and promotions into champion_ledger, rebuilding missing ledger rows", Run: copyChampionLedger},
	},
	{
		Version: 6,
		Name:    "run data: a run's training sample and holdout in chunks",
		Statements: []string{
			// The rows a retrain run reads once from its window: the sampled
			// training rows and the holdout, as compressed chunks with their
			// SHA-256, one partition per model, run, part and day; part
			// "manifest" (day 0, chunk 0) lists them and is written last.
			// Candidates and the evaluation read these instead of the source
			// table. They expire after 7 days: a run uses them for hours.
			`CREATE TABLE IF NOT EXISTS {ks}.run_data (
				model text, run_id text, part text, day int, chunk int,
				rows int, data blob, sha256 text,
				PRIMARY KEY ((model, run_id, part, day), chunk))
				WITH default_time_to_live = 604800`,
		},
	},
	{
		Version: 7,
		Name:    "model_versions.provenance",
		Statements: []string{
			// Where a version registered from a file or made by an external
			// trainer came from (JSON: file SHA-256, format, producer and its
			// version, who registered it and why); empty for versions
			// Kingmaker trained. Covered by metadata_sha256 when set.
			`ALTER TABLE {ks}.model_versions ADD IF NOT EXISTS provenance text`,
		},
	},
	{
		Version: 8,
		Name:    "predictions of every task (a value, or a probability per class); the demo's delivery table",
		Statements: []string{
			// What a batch run of a regression model predicts for a row (its
			// predicted and score stay null), and, for a multiclass model,
			// the probability of every class by name (frozen: a row is
			// written whole, so no collection tombstones). Rows written before
			// have neither and read as they did.
			`ALTER TABLE {ks}.predictions ADD IF NOT EXISTS value double`,
			`ALTER TABLE {ks}.predictions ADD IF NOT EXISTS probabilities frozen<map<text, double>>`,

			// The demo's regression source (demo.GenerateDelivery): one
			// partition per dataset and day, rows in time order, the label
			// minutes a number.
			`CREATE TABLE IF NOT EXISTS {ks}.deliveries (
				dataset text, day date, ts timestamp, id uuid,
				distance_km double, items int, prep_minutes double, hour int,
				courier_load int, zone text, vehicle text, weather text,
				minutes double,
				PRIMARY KEY ((dataset, day), ts, id))`,
		},
	},
}
