"""The blank-card (blangko) domain: stock actions, forecasts, alerts and reports."""
