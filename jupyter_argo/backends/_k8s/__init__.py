"""The Kubernetes backend's parts: the connection and its errors (`cluster`), watching a
Workflow (`watch`), node status packing (`nodes`), Argo's actions formulated as the Argo
server does them (`actions`), artifact repositories (`repository`) and logs (`logs`)."""
