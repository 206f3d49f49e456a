//! Controllers: one file per kind. (Being written.)
