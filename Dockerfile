# syntax=docker/dockerfile:1.7
#
# The fincert image: `docker build -t fincert:0.1.0 .` (infra/README.md has the whole path to a
# cluster). Two stages:
#
# - builder: the project's toolchain (rustc 1.95.0, what rust-toolchain.toml's `stable` is on
#   every machine of this project), `cargo build --release --locked --bin fincert` with the
#   package's default features, exactly as infra's runtime-contract test assumes;
# - runtime: distroless `cc` (glibc, libgcc, CA certificates, tzdata; no shell, no package
#   manager), as the image's non-root user 65532. fincert is one self-contained binary (the
#   migrations, openapi.yaml and the portal are compiled in) that links glibc dynamically, so a
#   `static` image would not run it and debian-slim would add a shell and apt for nothing. It
#   writes nothing to disk with PostgreSQL and AWS KMS, so the root filesystem can be read-only
#   with no writable volume at all (the runtime-contract test runs it in a read-only directory
#   with HOME and TMPDIR there too).
#
# Pin both bases by digest in your registry mirror (`FROM …@sha256:…`) for reproducible builds.

ARG RUST_VERSION=1.95.0

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS builder
ARG RUST_VERSION
# rust-toolchain.toml names the channel (`stable`) rather than a version; inside this image that
# would make rustup download today's stable. RUSTUP_TOOLCHAIN takes precedence over the file and
# pins the image's own toolchain.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin fincert \
 && install -D -m 0555 target/release/fincert /out/fincert

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/fincert /usr/local/bin/fincert
# The image's `nonroot` user, numerically, so runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
WORKDIR /home/nonroot
# 8080: the API (http.listen); 9090: Prometheus metrics (http.metrics_listen).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/fincert"]
CMD ["serve"]
