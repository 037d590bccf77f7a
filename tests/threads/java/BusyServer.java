// A healthy, busy server: workers compute (RUNNABLE, frames change from one dump to the next), idle pool
// threads wait for work in the queue, one acceptor waits for connections.
package com.example.web;

import java.net.ServerSocket;
import java.security.MessageDigest;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

public class BusyServer {
    static class TokenSigner {
        static byte[] sign(byte[] data) throws Exception {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (int i = 0; i < 2000; i++) { data = md.digest(data); }
            return data;
        }
        static String encode(byte[] data) {
            StringBuilder sb = new StringBuilder();
            for (byte b : data) { sb.append(Integer.toHexString(b & 0xff)); }
            return sb.toString();
        }
    }

    public static void main(String[] args) throws Exception {
        ServerSocket server = new ServerSocket(0);
        Thread acceptor = new Thread(() -> { try { while (true) server.accept().close(); } catch (Exception e) { } }, "http-nio-8080-Acceptor");
        acceptor.setDaemon(true);
        acceptor.start();
        AtomicInteger n = new AtomicInteger();
        ThreadFactory tf = r -> new Thread(r, "http-nio-8080-exec-" + n.incrementAndGet());
        ExecutorService pool = Executors.newFixedThreadPool(12, tf);
        for (int w = 0; w < 12; w++) {
            final boolean busy = w < 4;
            pool.submit(() -> {
                if (!busy) return null;
                byte[] d = new byte[64];
                while (true) { String s = TokenSigner.encode(TokenSigner.sign(d)); d = s.getBytes(); }
            });
        }
        Thread.sleep(500);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}
