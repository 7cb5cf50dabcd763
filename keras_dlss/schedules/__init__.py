"""keras_dlss.schedules: public exports (each listed in `__all__`)."""

from keras_dlss.schedules.scheduled_sampling import (
    ExponentialDecay,
    InverseSigmoidDecay,
    LinearDecay,
    SamplingSchedule,
)

__all__ = ["ExponentialDecay", "InverseSigmoidDecay", "LinearDecay", "SamplingSchedule"]
