//! The config stream. (Being written.)
