// Package schedules keeps the Temporal Schedules of Kingmaker's models in
// step with the config: one schedule per model and kind (retrain-<model>,
// drift-<model>, score-<model>) for every trigger that sets `every` or
// `cron`. It owns the
// mapping from config.Trigger to a Temporal ScheduleSpec, Sync (create,
// update, delete, idempotently), and the operations people run on the
// schedules from the CLI: List, Pause, Resume and Trigger.
//
// It does not run workflows (package workflows does) and does not dial
// Temporal (package worker does); it takes a client.Client.
//
// # Ownership
//
// A schedule belongs to Kingmaker when its memo has managed-by: kingmaker
// (with the model and kind beside it), which Sync writes at creation. Sync,
// Pause, Resume and Trigger act only on such schedules; a schedule of the same
// id without that memo is reported and left alone. Sync deletes the schedules
// it owns that the config no longer asks for (model removed, trigger
// emptied), but only those that start workflows on the config's task queue:
// deployments (and tests) with their own task queue can share a namespace
// without deleting each other's schedules. Finding the schedules of removed
// models relies on Temporal's schedule listing, which is eventually
// consistent: a schedule created a moment ago may be missed by one Sync and
// is deleted by the next.
//
// # Semantics
//
//   - Spec: `every` is an interval from the Unix epoch (every: 6h runs at
//     00:00, 06:00, ... UTC); `cron` is a standard 5-field expression in UTC,
//     turned into calendar specs here (names, ranges, lists and steps; 7 is
//     Sunday; when both day-of-month and day-of-week are restricted either
//     one matches, as in cron). `jitter` delays each run by up to that much.
//   - Overlap: skip. A run that comes due while the previous one of the same
//     schedule still runs is skipped, never queued.
//   - Catch-up window: DefaultCatchupWindow (1h) unless the trigger sets
//     catchup_window. A run missed while Temporal was down is still taken if
//     the server is back within the window; with overlap skip an outage never
//     produces more than one late run.
//   - Paused: `paused: true` in the config pauses the schedule at every Sync
//     (the note says the config did it). `paused: false` does not undo a pause
//     made with `kingmaker schedule pause`: Sync only resumes schedules that
//     the config itself had paused. A new schedule starts paused exactly when
//     the config says so.
//   - Trigger starts the schedule's action now with overlap skip, so it never
//     runs beside a run of the same schedule: when one is running, Trigger
//     fails with ErrRunning and names it. Triggering works on a paused
//     schedule (an explicit request is not a scheduled run).
//   - Score: a score schedule starts BatchScoreWorkflow with a relative
//     window (schedule.score window, lag, align) instead of explicit dates;
//     each run fixes its window from the time the schedule meant it for
//     (Temporal's TemporalScheduledStartTime, before jitter), so a late
//     catch-up run or a backfill scores the rows of its own slot, and runs
//     of an interval whose window equals the interval tile time without gaps
//     or overlaps. A triggered run's time is the moment of the trigger.
//   - Idempotence: Sync compares the spec, policies, action (workflow, task
//     queue, input, memo, search attributes) and paused state it wants with
//     what Temporal describes, and updates only what differs; a second Sync
//     reports every schedule unchanged.
package schedules
