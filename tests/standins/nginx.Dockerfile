# Stand-in for nginx:1.30: the official image's start (/docker-entrypoint.d/, templates
# rendered with envsubst into /etc/nginx/conf.d/), then nginx in the foreground. Like the
# official image it has curl and openssl (from ca-certificates).
ARG BASE=cad-standin/base:latest
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y nginx gettext-base curl openssl \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log \
 && mkdir -p /etc/nginx/templates /docker-entrypoint.d \
 && id nginx 2>/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin nginx
# The official image's nginx.conf runs workers as "nginx" and includes conf.d/*.conf.
# Its temporary files (request bodies, proxied responses) are under /var/cache/nginx,
# where Debian's build has /var/lib/nginx: a link, so that the same writable mounts
# serve both (a read-only root file system, as in Kubernetes).
RUN sed -i 's/^user .*/user nginx;/' /etc/nginx/nginx.conf \
 && rm -rf /var/lib/nginx && mkdir -p /var/cache/nginx && ln -s /var/cache/nginx /var/lib/nginx
COPY nginx-entrypoint.sh /docker-entrypoint.sh
COPY nginx-envsubst-on-templates.sh /docker-entrypoint.d/20-envsubst-on-templates.sh
EXPOSE 80
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["nginx", "-g", "daemon off;"]
