module github.com/govs/gvs

go 1.26
