# syntax=docker/dockerfile:1
# The one `cadre` binary every part runs (`cadre serve roster`, `cadre serve gateway`, …).
#
#   docker build -t cadre:dev .
#   docker run --rm -p 8080:8080 -p 50051:50051 cadre:dev \
#     up --http-addr 0.0.0.0:8080 --grpc-addr 0.0.0.0:50051 --data-dir /tmp/cadre
#
# Build stage: the toolchain the workspace asks for (rust-version in Cargo.toml). protox
# compiles the protos, so no protoc; sqlx, rustls and the rest are pure Rust or need only a C
# compiler, which the image has. Dependencies are fetched against Cargo.lock (--locked).
FROM docker.io/library/rust:1.90-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY proto proto
COPY services services
COPY gateway gateway
COPY src src
# The manifest names the benches; cargo wants them present to read it.
COPY benches benches
# Symbols stripped (32 MB → 25 MB): panics still print their message and location.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin cadre \
    && install -D -m 0755 target/release/cadre /out/cadre

# Run stage: glibc, libgcc and CA certificates (for the identity provider's JWKS over HTTPS),
# nothing else: no shell, no package manager. It runs as the distroless nonroot user, which
# the Kubernetes manifests ask for again (runAsUser 65532) with a read-only root filesystem.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/cadre /usr/local/bin/cadre
USER 65532:65532
# gRPC (every part), HTTP (the gateway), /metrics of a part running alone.
EXPOSE 50051 8080 9090
ENTRYPOINT ["/usr/local/bin/cadre"]
CMD ["--help"]
