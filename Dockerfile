# spine-sandbox container image.
#
# Normal build (needs a registry for the two base images):
#     docker build -t spine-sandbox .                 # or: docker compose build
#
# Build from a binary you already have, with no registry at all:
#     cargo build --release --locked
#     mkdir -p docker/prebuilt && cp target/release/spine-sandbox docker/prebuilt/
#     docker build --target runtime-prebuilt \
#         --build-arg BASE_IMAGE=spine-sandbox-base:bookworm -t spine-sandbox .
# BASE_IMAGE must be a Debian bookworm root filesystem (glibc 2.36, as the binary
# is glibc-linked); scripts/compose-smoke makes one with debootstrap + docker import.
#
# Both ways give the same runtime layout:
#     /app/spine-sandbox    the binary (also the HEALTHCHECK: no curl in the image)
#     /app/scenarios/       the repository's scenarios (compose mounts ./scenarios over it)
#     /app/certs/           generated PKI (compose mounts ./certs here)
#     user sandbox, UID/GID 1000 (see docker/README-section.md for why 1000)
#
# Stage order matters: the classic (non-BuildKit) builder builds every stage
# before the requested --target, so runtime-prebuilt comes before the Rust
# stage and never pulls the Rust image.

ARG BASE_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1-bookworm

# ---------------------------------------------------------------------------
# Runtime skeleton shared by both final targets.
FROM ${BASE_IMAGE} AS runtime-base
ARG SANDBOX_UID=1000
ARG SANDBOX_GID=1000
RUN groupadd --gid "${SANDBOX_GID}" sandbox \
 && useradd --uid "${SANDBOX_UID}" --gid "${SANDBOX_GID}" --no-create-home \
        --home-dir /app --shell /usr/sbin/nologin sandbox \
 && mkdir -p /app/certs \
 && chown sandbox:sandbox /app/certs
WORKDIR /app
ENV SANDBOX_HTTP_ADDR=0.0.0.0:8080 \
    SANDBOX_SSP_ADDR=0.0.0.0:8443 \
    SANDBOX_CERTS_DIR=/app/certs \
    SANDBOX_SCENARIO=scenarios/default.yaml
COPY scenarios/ /app/scenarios/
EXPOSE 8080 8443
USER sandbox
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/app/spine-sandbox", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/app/spine-sandbox"]
CMD ["serve"]

# ---------------------------------------------------------------------------
# Target for places with no registry: the binary comes from the build context.
FROM runtime-base AS runtime-prebuilt
# The file must be executable in the context (cp/install keep the mode; --chmod
# would need BuildKit, which Debian's docker.io does not use by default).
COPY docker/prebuilt/spine-sandbox /app/spine-sandbox

# ---------------------------------------------------------------------------
# Rust build stage.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
RUN cargo build --release --locked --bin spine-sandbox \
 && install -m 0755 target/release/spine-sandbox /spine-sandbox

# ---------------------------------------------------------------------------
# Default target: runtime image with the binary built above.
FROM runtime-base AS runtime
COPY --from=build /spine-sandbox /app/spine-sandbox
