# Common layer of every stand-in: the imported trixie root file system plus apt settings.
ARG ROOTFS=cad-standin/trixie-rootfs:latest
FROM ${ROOTFS}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
# The host's CA bundle: trusted by apt, pip and uv inside builds (TLS-inspecting proxies).
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Like the official images: no recommends, no docs, small layers.
RUN printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > /etc/apt/apt.conf.d/90standin
CMD ["bash"]
