// Every worker of a fixed pool is blocked reading from a backend that accepts connections and never
// answers: the pool is saturated by a slow resource, with no lock involved.
package com.example.gateway;

import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

public class SlowPool {
    static class ProfileClient {
        static int fetch(int port) throws Exception {
            try (Socket s = new Socket("127.0.0.1", port)) {
                InputStream in = s.getInputStream();
                return in.read();
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        ServerSocket backend = new ServerSocket(0, 1000);
        List<Socket> held = new ArrayList<>();
        Thread acceptor = new Thread(() -> {
            try { while (true) { held.add(backend.accept()); } } catch (Exception e) { }
        }, "slow-backend");
        acceptor.setDaemon(true);
        acceptor.start();
        AtomicInteger n = new AtomicInteger();
        ThreadFactory tf = r -> new Thread(r, "profile-pool-" + n.incrementAndGet());
        ExecutorService pool = Executors.newFixedThreadPool(size, tf);
        for (int i = 0; i < size * 4; i++) {
            pool.submit(() -> ProfileClient.fetch(backend.getLocalPort()));
        }
        Thread.sleep(500);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}
