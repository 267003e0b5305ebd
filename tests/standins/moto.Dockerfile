# An S3-compatible server for the scale-out test (tests/test_scale_out.py): moto's, on port
# 5000, objects in memory. No MinIO image can be pulled here; moto speaks the same HTTP
# API (requests signed and presigned as for any S3), but checks no signature or policy.
# The image is named moto-s3:standin; it has no official counterpart.
ARG BASE=cad-standin/base:latest
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/moto \
 && /opt/moto/bin/pip install --no-cache-dir "moto[server]==5.2.5" \
 && useradd --system --no-create-home --shell /usr/sbin/nologin moto
USER moto
EXPOSE 5000
CMD ["/opt/moto/bin/moto_server", "--host", "0.0.0.0", "--port", "5000"]
