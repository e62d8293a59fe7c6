"""The cross-channel permission matrix: personas × ticket situations × endpoints, per channel."""
