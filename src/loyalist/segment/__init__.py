"""Customer segments: RFM quintile scores with named segment schemes, behavioural k-means
clusters with profile-based names and flagged outliers, and per-segment profiles.

- :class:`RFMScorer`: 1-5 scores, ``"named11"`` / ``"grid10"`` schemes (:mod:`.rfm`).
- :class:`CustomerClusters`: k-means, k by silhouette, named clusters (:mod:`.clusters`).
- :func:`segment_profile`, :func:`plot_segments` (:mod:`.profile`).
"""

from loyalist.segment.clusters import CustomerClusters
from loyalist.segment.profile import plot_segments, segment_profile
from loyalist.segment.rfm import GRID10, NAMED11, SCHEMES, RFMScorer, assign_segments

__all__ = ["GRID10", "NAMED11", "SCHEMES", "CustomerClusters", "RFMScorer", "assign_segments",
           "plot_segments", "segment_profile"]
