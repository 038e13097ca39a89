/* hello_debug.c - a program built against an installed libtricolor-debug
 * (pkg-config tricolor-debug): it serves the endpoint on a free loopback
 * port, asks itself for /debug/pprof/ and checks the answer is 200. */
#include <tricolor.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    int port = gc_debug_serve("127.0.0.1:0");
    if (port <= 0) {
        perror("gc_debug_serve");
        return 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        return 1;
    }
    static const char req[] = "GET /debug/pprof/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
        return 1;
    char status[13] = {0};
    ssize_t n = read(fd, status, 12);
    close(fd);
    gc_debug_stop();
    if (n != 12 || strcmp(status, "HTTP/1.1 200")) {
        fprintf(stderr, "hello_debug: /debug/pprof/ answered \"%s\"\n", status);
        return 1;
    }
    printf("hello_debug: served /debug/pprof/ on port %d\n", port);
    return 0;
}
