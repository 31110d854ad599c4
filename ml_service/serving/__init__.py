"""The real-time scoring service (`mlops serve`): Azure ML's `/score`, MLflow's `/invocations`."""
