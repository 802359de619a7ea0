#!/usr/bin/env python3
"""rawhttp.py: send exact bytes to a server and report what came back.

  rawhttp.py HOST PORT [--pace MS] [--timeout S] < request-bytes

Writes the request bytes as given (with --pace, one byte every MS
milliseconds), then reads until the server closes or --timeout passes.
Prints the answer's bytes, then one last line:
  "#closed" (the server closed the connection),
  "#open" (still open at the timeout), or
  "#reset" (the connection was reset or refused a write).
Used by the e2e tests for requests curl will not send (smuggling,
malformed heads, slow clients).
"""
import socket
import sys
import time


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    pace, timeout = 0.0, 5.0
    args = sys.argv[3:]
    while args:
        if args[0] == "--pace":
            pace = float(args[1]) / 1000
        elif args[0] == "--timeout":
            timeout = float(args[1])
        args = args[2:]
    data = sys.stdin.buffer.read()
    s = socket.create_connection((host, port), timeout=timeout)
    end = "#open"
    got = b""
    try:
        if pace > 0:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
                time.sleep(pace)
        else:
            s.sendall(data)
        deadline = time.time() + timeout
        while time.time() < deadline:
            s.settimeout(max(0.01, deadline - time.time()))
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                end = "#closed"
                break
            got += b
    except (ConnectionResetError, BrokenPipeError):
        end = "#reset"
    sys.stdout.buffer.write(got)
    sys.stdout.write("\n" + end + "\n")


main()
