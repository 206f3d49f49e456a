//! Generates the config-stream gRPC code from `proto/` with `protox` (a pure-Rust protobuf
//! compiler), so building needs no system `protoc`. Only runs with the `grpc` feature.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    #[cfg(feature = "grpc")]
    {
        let descriptors = protox::compile(["oblivious/config/v1/config.proto"], ["proto"])?;
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            // Snapshots can be megabytes: decode them into `Bytes` without a copy.
            .bytes(".oblivious.config.v1.DiscoveryResponse.snapshot")
            .compile_fds(descriptors)?;
    }
    Ok(())
}
