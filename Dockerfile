# openpeer-gateway: multi-stage build, non-root runtime image with a health check.
#   docker build -t openpeer-gateway .
#   docker run -p 8080:8080 -e OPENPEER_GATEWAY__SERVER__BIND=0.0.0.0:8080 \
#     -e OPENPEER_GATEWAY__SERVER__ALLOW_HTTP=always -v openpeer-data:/var/lib/openpeer-gateway openpeer-gateway
# In production, give TLS files (server.tls.cert/key) instead of allowing plain HTTP.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin openpeer-gateway

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/openpeer-gateway --create-home openpeer
COPY --from=build /src/target/release/openpeer-gateway /usr/local/bin/openpeer-gateway
USER openpeer
WORKDIR /var/lib/openpeer-gateway
ENV OPENPEER_GATEWAY__DATABASE__URL=sqlite:///var/lib/openpeer-gateway/openpeer-gateway.db?mode=rwc \
    OPENPEER_GATEWAY__LOG__FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/openpeer-gateway"]
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["openpeer-gateway"]
CMD ["serve"]
