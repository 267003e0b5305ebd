# Stand-in for redis:8: redis-server on port 6379, data in /data, redis-cli for healthchecks.
ARG BASE=cad-standin/base:latest
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
VOLUME /data
EXPOSE 6379
USER redis
# Like the official image without a config file: listen everywhere, no protected mode.
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"]
