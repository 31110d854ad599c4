"""Azure Machine Learning backend: the pipeline definition and the endpoints as CLI v2 assets.

`compiler` turns the cloud-neutral pipeline definition into Azure ML YAML (pure,
no Azure import); `endpoints` does the same for the online and batch endpoints;
`sdk` loads and validates the YAML with azure-ai-ml; `submit` sends a compiled
pipeline to a workspace with `MLClient`; `cli` is the `mlops pipeline` /
`mlops endpoint` command groups. The azure packages are the optional `azure`
extra and are imported only when a command needs them.
"""
