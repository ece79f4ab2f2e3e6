"""From labels to models: features, training, statistics, the model registry and model cards."""
