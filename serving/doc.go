// Package serving is Kingmaker's real-time prediction endpoint: an HTTP
// server that loads the champion of every configured model, answers
// predictions with it, and follows the champion pointer so that a promotion
// takes effect without a redeploy.
//
// It owns the HTTP API, the swap of champions while serving, shadow scoring
// and the serving metrics. It does not decide promotions (evaluator,
// workflows), store versions or shadow predictions (registry) or score
// windows in batch (workflows).
//
// # Following the champion
//
// One goroutine per model reads the model's champion pointer every poll
// interval. When the generation changes it loads the new version fully
// (artifact checked against its SHA-256, decoded, its feature schema and
// classes compared with the config's) and only then swaps it in: the live
// champion is an atomic pointer to an immutable snapshot {model, version,
// generation}, and each request reads the pointer once, so no request mixes
// versions and none fails during a swap. A load that fails keeps the old
// champion serving, is logged and counted, and is retried at the next poll.
//
// # Endpoints
//
// The Open Inference Protocol (KServe v2) where it fits, with Kingmaker's
// additions under "parameters":
//
//	GET  /v2/health/live             200 while the process runs
//	GET  /v2/health/ready            200 when every model that has a champion has it loaded, else 503
//	GET  /v2                         server metadata
//	GET  /v2/models/{model}          model metadata: version, inputs (one per feature), outputs
//	GET  /v2/models/{model}/ready    200 when the model's champion is loaded, else 503
//	POST /v2/models/{model}/infer    columnar batch: one input tensor per feature, shape [N]
//	POST /v1/models/{model}:predict  {"instances": [{"feature": value, ...}, ...]}
//	GET  /metrics                    Prometheus metrics of the server
//
// With Options.SeparateOps, /metrics and the health endpoints are served
// by OpsHandler alone, on a listener of their own (ServeWithOps).
//
// # Who may call
//
// Options.Auth names the bearer tokens the server accepts (ParseTokens,
// AuthFromConfig) and whether a client certificate the TLS listener
// verified (TLSConfig) will do. With either set, every endpoint but
// /metrics and health (unless Auth.OpenMetrics) answers 401 to a request
// without valid credentials, before anything else is done for it. Tokens
// are kept as SHA-256 digests, compared in constant time with all of them,
// and never logged or quoted. The caller's name ("token:NAME" or
// "cert:SUBJECT") is the actor of its shadow rows.
//
// # Limits
//
// A prediction request takes one of MaxConcurrent slots (and, when its body
// is over LargeBody or of unknown length, one of MaxConcurrentLarge) or is
// refused with 503 after QueueWait; it then has BodyTimeout to send at most
// MaxBody bytes. The raw body is scanned for nesting deeper than the
// protocol needs and for arrays and objects longer than MaxRows and
// MaxFeatures allow before it is decoded, strictly (unknown fields and
// trailing data are errors); tensor data stays raw until every input's
// name, datatype and shape, and the row count, were checked, and only then
// are the rows allocated. What error messages quote of a request is
// clipped to 40 bytes; load and driver errors go to the log, not to 503
// bodies.
//
// Numeric features are FP64 tensors (JSON numbers; booleans count as 1 and
// 0, as in training); categorical features are BYTES tensors (strings). A
// category the config does not list, or null, is the "unknown" category,
// as in training. Strings for numeric features ("NaN" included), numbers out
// of float64 range, unknown or missing features, inconsistent shapes and
// malformed JSON are refused with 400 and {"error": "..."} naming the field;
// a body over the size limit with 413. An unknown model is 404; a model
// without a loaded champion is 503 with the reason (no champion yet: run
// `kingmaker retrain MODEL`).
//
// Every response that used a champion names it: "model_version" and
// "generation" in the body and the X-Kingmaker-Version and
// X-Kingmaker-Generation headers.
//
// The "probability" output is the model's score for the positive class (the
// last of label.classes): P(positive) for logistic and naive_bayes, the share
// of votes or neighbours for id3, forest and knn. What a response holds
// follows the task of the version in service (its artifact's schema, which
// must match the config's): a binary model answers "class" and
// "probability"; a multiclass model "class" and "probabilities", one per
// class (v2: an FP64 tensor of shape [N, classes], row after row, whose
// parameters name the classes; v1: a list per row and "classes" once in
// the response); a regression model "value" alone (v1: {"value": x} per
// row). A v2 request that asks for an output its model's task cannot give
// is refused with 400 naming the outputs it has. Binary responses are
// exactly what they were before tasks existed.
//
// # Shadow scoring
//
// A model may also have a shadow version: the registry's shadow pointer
// (table shadows), set by a retrain run for the shadow period its policy
// asks (policy.shadow.period) or by `kingmaker shadow MODEL --set`. The
// same poll that follows the champion follows the shadow pointer; a shadow
// version is loaded and checked like a champion, and a failed load only
// stops shadowing (the champion serves on).
//
// A sampled share of the answered prediction requests (Options.ShadowSample,
// `--shadow-sample`, 0.1 by default; 0 turns it off) is then scored by the
// shadow too, but never on the request's path: once the response is written
// the handler offers the rows, the champion's answers and the version that
// gave them to a bounded queue without waiting; when the queue is full the
// rows are dropped and counted; the queue is bounded in requests
// (ShadowQueue) and in bytes (ShadowQueueBytes). Worker goroutines score them with the shadow
// and write both predictions, one row per instance, to shadow_predictions
// ((model, shadow_version, day), ts, request_id, row): champion version and
// generation, champion and shadow class and score, the row's key and its
// features as JSON.
//
// A row's key is optional: an "id" field of a v1 instance, or a v2 input
// tensor named "id" (BYTES or integers, one per row), unless the model has a
// feature called id. It should be the row's value of the source table's
// key_column: the shadow report then finds the row's label there, once it
// has arrived, and scores champion and shadow on the labelled rows. Ids
// are unique within a request (a repeated one is refused), and the report
// takes the first row recorded with an id, so a re-sent id cannot replace
// it.
//
// # Canary during a probation
//
// While a probation set the shadow pointer (registry.Shadow.Probation: the
// previous champion shadows the new one) and the model's
// policy.probation.canary_fraction is above 0 in the server's config, the
// previous champion answers that share of the keyed requests instead of
// the champion: a request whose key (its first row's id, else the v2
// request id; requests with neither always get the champion) hashes into
// the share (InCanary: FNV-1a 64 of the key as a number in [0, 1) below
// the fraction), so a key goes to the same version on every server. Such
// a response names the previous champion in model_version and
// X-Kingmaker-Version, keeps the champion's generation, and carries
// X-Kingmaker-Canary: true; kingmaker_serving_requests_total counts it
// under the version that answered. When it is sampled, the new champion
// scores its rows after the response, so shadow_predictions pairs the two
// versions on every row whoever answered: champion_* is always the
// champion's prediction, shadow_* the previous champion's.
//
// Metrics: kingmaker_serving_shadow_rows_total{model, outcome} (recorded,
// dropped, error) and kingmaker_serving_shadow_agreement_ratio{model}, the
// share of the latest AgreementWindow shadowed rows on which the shadow
// predicted the champion's class. A regression model's shadow rows carry
// no class and both values in the score columns; its window gives
// kingmaker_serving_shadow_mean_abs_difference{model} instead, and the
// shadow report (which judges classes) refuses it. Model metadata and model readiness name
// the shadow in parameters.shadow_version while there is one.
package serving
