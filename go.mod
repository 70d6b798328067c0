module github.com/kingmaker-ml/kingmaker

go 1.26
