package api

import _ "embed"

// OpenAPI is the API's description (openapi.yaml), served to tools and
// checked against the server in tests.
//
//go:embed openapi.yaml
var OpenAPI []byte
