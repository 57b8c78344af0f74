// Package metrics exposes gvsd's state to Prometheus. Everything is read
// from the engine and the data path when Prometheus scrapes: nothing is
// counted per packet here. The IPVS metrics carry the names and labels of
// node_exporter's IPVS collector, so dashboards built for kernel IPVS work
// unchanged; GVS's own metrics are prefixed gvs_.
package metrics
