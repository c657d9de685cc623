# syntax=docker/dockerfile:1
# Operator image: one static (musl) binary on distroless, running as non-root.
#   docker build -t pilot-light --build-arg SOURCE_URL=https://... .
# Needs BuildKit (the default builder since Docker 23) for the cache mounts below.

# Keep the Rust version in step with the toolchain the project is developed and tested on.
FROM rust:1.95-bookworm AS build
# musl-tools provides musl-gcc, the C compiler that ring and aws-lc-sys use for the musl target.
# No cmake, clang or nasm: aws-lc-sys ships pregenerated bindings for x86_64-unknown-linux-musl
# and builds AWS-LC with the `cc` crate.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
# Only what the release build reads; benches/ because Cargo.toml declares [[bench]] targets.
COPY Cargo.toml Cargo.lock ./
COPY benches benches
COPY src src
# Cache mounts keep the crates.io download and compiled dependencies between builds, so a
# source change recompiles only this crate. target/ is a cache mount, so the binary is copied
# out in the same step. Only the operator is built: kubectl-pilotlight (src/bin) is a
# user-side kubectl plugin, not something the cluster runs.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl --bin pilot-light \
 && cp target/x86_64-unknown-linux-musl/release/pilot-light /pilot-light

# distroless/static rather than scratch: it has the CA bundle (/etc/ssl/certs) that the AWS
# SDK's rustls-native-certs loads, plus /etc/passwd and tzdata; still no shell or libc.
FROM gcr.io/distroless/static-debian12:nonroot
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="pilot-light" \
      org.opencontainers.image.description="Kubernetes operator for AWS multi-region pilot-light disaster recovery" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE_URL}"
COPY --from=build /pilot-light /pilot-light
# 65532 is distroless's "nonroot"; numeric so runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
# Admin server (--admin-addr, default 0.0.0.0:8080): /healthz, /readyz, /metrics.
EXPOSE 8080
ENTRYPOINT ["/pilot-light"]
CMD ["run"]
