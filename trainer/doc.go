// Package trainer trains classification and regression models and encodes them as artifacts.
//
// It owns the Trainer and Model interfaces, the algorithms behind them and the artifact format
// (Model.MarshalBinary, Decode). It does not read data (dataset builds the Data grids), store
// artifacts or check their SHA-256 (registry), or compute metrics (evaluator). It imports nothing
// of the project and does no I/O other than one temporary file while training naive_bayes.
//
// # Data
//
// A Data grid holds one row per example: X[i][j] is feature j of Schema.Features. A numeric
// feature holds any finite value; a categorical one holds the index of a category of
// Feature.Categories as a float64, or -1 for a category the schema does not know. For a
// classification task Y[i] is the class id (an index of Schema.Classes) and Target is nil; for
// task regression Target[i] is the number to predict and Y is nil. Train rejects, with an error
// wrapping ErrInvalidData and naming the row and the feature: no rows (also ErrNoRows), one class
// only (also ErrOneClass), NaN or infinite values or targets, category indexes out of range, rows
// of the wrong width, class ids out of range, labels of the other kind of task, a task the
// algorithm does not support (also ErrUnsupportedTask) and invalid schemas. Predict applies the
// same row checks; -1 is always accepted.
//
// # Tasks
//
// Schema.Task says what a model predicts: "binary" (exactly two classes), "multiclass" (three or
// more) or "regression" (a number; no classes). A schema naming no task has the default of its
// classes (DefaultTask): binary for two, multiclass for more, which is what every schema meant
// before tasks existed. A trained or decoded model's Schema always names its task. Each algorithm
// states the tasks it supports (Tasks); Supports(algorithm, task) refuses a pair with a one-line
// error such as "algorithm naive_bayes does not support task regression; use one of: linear",
// and Train refuses data of an unsupported task the same way:
//
//	algorithm     binary  multiclass  regression
//	forest        yes     yes         -
//	id3           yes     yes         -
//	knn           yes     yes         yes
//	linear        -       -           yes
//	logistic      yes     yes         -
//	naive_bayes   yes     yes         -
//	onnx          yes     yes         yes   (registered from a file, never trained)
//	xgboost       yes     yes         yes
//
// A regression model is a Model (so every caller of Model works unchanged) and a Regressor: its
// PredictValues gives one number per row, while its Predict returns an error matching
// ErrUnsupportedTask, since it has no classes.
//
// # Algorithms and parameters
//
// Lookup(name) returns the Trainer of an algorithm; Algorithms lists the names. Parameters
// missing from a Params take their default; unknown names and bad values are *ParamError
// (errors.Is ErrInvalidParams) naming the parameter. Model.Params returns every parameter,
// defaults included, and the artifact keeps them all.
//
// "logistic": L2-regularised logistic regression (binary, and multinomial for three or more
// classes), fitted by Newton's method with gonum (gonum's L-BFGS beyond 400 coefficients, e.g.
// for categorical features with many categories; same stopping rule). Numeric features are standardised (population standard
// deviation; 1 for a constant feature) and categorical ones one-hot encoded (unknown: all zeros)
// inside the model. It minimises Σ log-loss + (l2/2)·‖w‖² without penalising the intercept,
// which is scikit-learn's LogisticRegression(C=1/l2); a test holds the coefficients and
// probabilities to scikit-learn's within 1e-6.
//
//	l2        1      penalty strength, > 0 (scikit-learn's C = 1/l2)
//	max_iter  100    Newton iterations (L-BFGS: 50× as many), 1..10000; not converging is an error
//	tol       1e-8   stop when every gradient component of the objective / rows is <= tol
//
// "linear": ridge regression (task regression only), solved with gonum. Rows are standardised and
// one-hot encoded inside the model as for logistic; the model minimises
// Σ (y − w·x̃ − b)² + alpha·‖w‖² without penalising the intercept, by Cholesky on the centred
// normal equations (rows are encoded in blocks, so training holds the columns × columns Gram
// matrix, not the encoded grid). This is scikit-learn's Ridge(alpha) with fit_intercept=True after
// StandardScaler and OneHotEncoder(handle_unknown="ignore"); a test holds coefficients and
// predictions to scikit-learn's within 1e-6. Ridge on the unstandardised features would give other
// coefficients: the penalty acts on the standardised ones.
//
//	alpha     1      penalty strength, > 0 (scikit-learn's Ridge(alpha))
//
// "id3": one ID3 decision tree grown by golearn (trees.InferID3Tree) on binned features. Each
// numeric feature is cut into at most `bins` quantile bins computed on the training rows (the
// edges are stored, so prediction bins alike); each categorical feature is split by category,
// the unknown category being one more value. Splits maximise information gain (computed by the
// package in a fixed order; see tree.go). A value no training row had at a node stops the walk
// there and predicts from that node's rows. The score is the share of class-1 training rows at the
// node the walk ends at.
//
//	bins       10       quantile bins per numeric feature, 2..255 (ties can give fewer)
//	prune      0        1: hold 20% of the rows out and prune the tree on them (reduced error)
//	min_split  2        nodes with fewer training rows are not split, >= 2
//	max_rows   100000   train on at most this many rows (a seeded sample), >= 10
//	seed       1        seeds the sample and the pruning hold-out
//
// "forest": `trees` ID3 trees as above, each grown on a bootstrap sample of the (sampled) rows,
// choosing the best of `features` random features at each split. The class is the majority vote
// (with more than two classes a tie goes to the lowest class id), the score the share of trees
// voting for class 1. golearn's ensemble.RandomForest is not used: its package needs cgo, it
// trains all trees at once (memory ~ trees × rows), samples with the global generator, breaks
// vote ties in map order and gives no scores; its Load silently mispredicts unless built with the
// same tree count. Trees are grown one at a time, so training holds one bootstrap grid; the model
// holds the trees (BENCHMARKS.md gives artifact sizes). max_rows and min_split bound both.
//
//	trees      31      number of trees, odd, 1..1001 (an even count lets binary votes tie)
//	features   0       features considered at each split; 0 = round(√features), at least 1
//	bins       10      as for id3
//	min_split  5       as for id3
//	max_rows   20000   as for id3
//	seed       1       seeds the row sample, the bootstraps and the feature choices
//
// "naive_bayes": golearn's naive.BernoulliNBClassifier on binarised rows: a numeric feature is 1
// above its training median, a categorical feature becomes one 0/1 column per category (all 0 for
// the unknown category). golearn fits; the package reads the fitted probabilities back from
// golearn's own Save output, predicts with golearn's formula (naive_bayes.go) and gives the
// posterior P(class 1) as the score. It has no parameters.
//
// "knn": k nearest neighbours by Euclidean distance on standardised, one-hot encoded rows,
// implemented in the package (golearn's KNNClassifier needs cgo, uses float32 distances, breaks
// vote ties in map order, prints progress to stdout and gives no scores). The model stores at
// most max_rows training rows, so prediction costs O(max_rows × columns) per row. The neighbours
// of a row are the k stored rows nearest to it; among stored rows at the same distance the one
// stored first is nearer. The class has the most neighbours (a tie goes to the class of the
// nearest neighbour among the tied); the score is the share of neighbours in class 1 and
// PredictProba gives each class its share. For task regression the prediction is the mean target
// of the same k neighbours, which is scikit-learn's KNeighborsRegressor(k, weights="uniform")
// after StandardScaler and OneHotEncoder(handle_unknown="ignore"); a test holds it to
// scikit-learn's within 1e-9.
//
//	k          5      neighbours, 1..1000, at most the stored rows
//	max_rows   5000   stored training rows (a seeded sample), 1..1000000
//	seed       1      seeds the sample
//
// "xgboost" (only in a build with the xgboost tag; xgboost.go says how it works): gradient-boosted
// trees by libxgboost's C API, binary:logistic for two classes, multi:softprob for more and
// reg:squarederror for task regression, each starting from the training rows' base rate (the
// class-1 share, or the mean target). Tests hold its probabilities and values to Python's xgboost
// of the same version on the same rows and parameters within 1e-6 (measured: bit for bit).
//
// # Models made elsewhere
//
// ImportXGBoost turns an XGBoost model file saved by Python's xgboost (JSON or UBJ) into an
// "xgboost" Model of the config's schema, after checking the feature contract (the file's columns
// are XGBoostColumns of the schema: numeric features, then each categorical one-hot as
// feature=category; names checked when the file has them, the count always; the objective fits the
// task; xgboost_file.go says it in full). Its artifact keeps the file's bytes, so it decodes, serves
// and is evaluated like any trained model. Debian's libxgboost 1.7 reads files of xgboost 1.x and
// 2.x; 3.x files, which 1.7 would load and mispredict, are refused naming the version. A build
// without the xgboost tag reads the file's metadata but refuses to load it (ErrXGBoostNotBuilt).
// ImportONNX does the same for ONNX files (onnx_file.go states their contract: one named input per
// feature, or one float input of the XGBoost import's columns, and a probabilities or value output), run by ONNX Runtime's C API in a build with the onnx
// tag (onnx.go; the library is loaded at run time, see scripts/onnxruntime.sh); its models have
// algorithm "onnx" and no trainer. ReadExpected and CheckParity compare a model's predictions with its producer's own (an expect
// CSV), naming the first row that differs.
//
// Every classification model gives classes; binary models (two schema classes) also give
// positive = P(class 1) or a score that ranks like it; models of three or more classes give nil
// scores. Every classification model is also a Prober: PredictProba gives one probability per
// schema class, in Schema.Classes order, each row summing to 1 (0 for a class without training
// rows). For a binary model column 1 is Predict's score bit for bit and column 0 is 1 minus it.
// Predict's class is always a most probable one; a tie goes to the lowest class id, except for
// knn, where it goes to the class of the nearest neighbour among the tied. The probabilities are:
// logistic, the model's (sigmoid, or softmax of the logits); naive_bayes, the posterior (softmax
// of golearn's log scores); id3, the class shares of the training rows at the node the row ends
// at; forest, the shares of the trees' votes; knn, the shares of the k neighbours; xgboost,
// XGBoost's (see xgboost.go).
//
// # Reproducibility and golearn
//
// Training the same Data with the same Params gives the same artifact, byte for byte, for every
// algorithm: sampling uses the package's own seeded generators (never golearn's use of the global
// math/rand, which since Go 1.24 cannot be seeded anyway), and the places where golearn would
// decide by map iteration order (split ties, leaf classes, vote ties, pruning) are done by the
// package. Only trees.InferID3Tree (tree growth) and naive.BernoulliNBClassifier (fit) run
// golearn code; both run on grids built for one Train call, so concurrent Train calls share no
// golearn state, and a panic inside golearn becomes an error. The package builds without cgo.
//
// Trainers and Models are safe for concurrent use; Models are immutable.
//
// # Artifact format
//
// Model.MarshalBinary writes, big-endian:
//
//	"KMART"            5-byte magic
//	version            uint16, FormatVersion (1)
//	header length      uint32
//	header             JSON {"algorithm", "params", "schema", "created_with": "kingmaker"}; the
//	                   schema's "task" is written only when it is not the default of its
//	                   classes (regression), so classification artifacts read as before tasks
//	payload length     uint64
//	payload            the schema's shape, then the algorithm's encoding (varints and
//	                   little-endian float64s: exact round trip)
//
// and nothing after the payload. Decode checks each part (magic, version, lengths, header fields,
// that every parameter is present and valid, that the payload fits the schema) and returns an
// error matching ErrCorruptArtifact, such as "artifact: truncated payload (want 1234 bytes, have
// 1000)", for anything else; it never panics (FuzzDecode). A reloaded model predicts exactly like
// the original, scores included. Any change to the header or a payload that a build would misread
// bumps FormatVersion. The schema's "task" did not: every artifact written before it reads with
// the default task, and a build older than it refuses an artifact naming a task (an unknown
// header field) rather than misreading it. Nor did new tasks of an algorithm (knn and xgboost
// regression, whose payloads hold targets or no trained classes): Decode checks the header's
// algorithm and task against the task table first, so a build whose table lacks the pair refuses
// the artifact with ErrCorruptArtifact instead of reading its payload.
//
// # Test data
//
// testdata/logistic_reference.json is written by testdata/make_reference.py and
// testdata/ridge_reference.json by testdata/make_ridge_reference.py, testdata/knn_reference.json by
// testdata/make_knn_reference.py, testdata/xgboost_reference.json (with xgboost_dataset.json.gz)
// by testdata/xgboost_reference.py and testdata/xgboost_regression_reference.json by
// testdata/xgboost_regression_reference.py (scikit-learn, Python's xgboost; their
// docstrings say how to rerun them). testdata/byom holds model files of Python's xgboost 1.7.6,
// 2.1.4 and 3.2.0 with their expect CSVs, written by testdata/byom/make_byom.py from demo rows
// (churn_rows.csv, written by go test ./demo -run TestBYOMRows -write-byom-rows), and
// churn_pipeline.onnx, a scikit-learn pipeline converted by skl2onnx, with its expect CSV, written
// by testdata/byom/make_onnx.py, and churn_lightgbm.onnx, a LightGBM classifier converted by
// onnxmltools, with LightGBM's own probabilities, written by testdata/byom/make_lightgbm_onnx.py.
// The FuzzDecode seed corpus in testdata/fuzz/FuzzDecode is
// rewritten from freshly trained models by
//
//	go test ./trainer -run TestWriteFuzzCorpus -write-fuzz-corpus
package trainer
