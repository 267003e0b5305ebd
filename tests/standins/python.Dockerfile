# Stand-in for python:3.13-slim: python, pip and venv on trixie.
ARG BASE=cad-standin/base:latest
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y python3 python3-pip python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/python3 /usr/local/bin/python \
 && ln -s /usr/bin/pip3 /usr/local/bin/pip \
 && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
# The official image's pip installs anywhere; trust the (possibly extended) system CA bundle.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
