module github.com/amojo-go/amojo

go 1.26.0

require golang.org/x/time v0.16.0

require github.com/google/uuid v1.6.0
