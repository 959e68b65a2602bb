module github.com/relayfn/relayfn

go 1.26.8
