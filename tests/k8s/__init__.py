"""A real Kubernetes API server for tests (envtest-style): etcd and kube-apiserver on
127.0.0.1, Argo's custom resource definitions, and helpers that play Argo's controller."""
