"""The MLflow pyfunc wrapper, logged as *models from code* (see ``tracking.log_training``).

MLflow's own sklearn flavour cannot be used: its skops format refuses our tokenizer class, and a
raw-text pipeline given a DataFrame through pyfunc silently returned one prediction for many
rows. This wrapper reads the text column and scores with our checked model directory.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ContactReasonModel(PythonModel):
    # Our predict takes a DataFrame with a text column or a plain list of texts and validates
    # them itself; MLflow's type-hint validation would pick one and warn about the other.
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        from pipeline.modelstore import load_model

        self.model = load_model(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        from pipeline.predict import predict_reasons

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame({"text": list(model_input)})
        column = "text" if "text" in frame.columns else frame.columns[0]
        return predict_reasons(self.model.pipeline, frame[column], self.model.threshold).reset_index(drop=True)


mlflow.models.set_model(ContactReasonModel())
