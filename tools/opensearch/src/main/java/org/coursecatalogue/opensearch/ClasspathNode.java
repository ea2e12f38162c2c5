package org.coursecatalogue.opensearch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * One OpenSearch node whose modules and plugins are classes on the classpath, not folders of a
 * distribution: {@code java -cp ... ClasspathNode HOME [PLUGIN_CLASS...]}.
 *
 * <p>HOME/config/opensearch.yml holds the node's settings (ports, cluster, paths); the modules a
 * distribution ships that the catalogue needs are always loaded, further plugin classes (the k-NN
 * plugin) are named after HOME. The node runs until the JVM is told to stop (SIGTERM, SIGINT or
 * the end of its standard input close it cleanly, so a node never outlives the process that
 * started it through a pipe); SIGKILL is a crash, as a lost machine would be.
 *
 * <p>Not a production launcher: no security manager, no bootstrap checks, no JAR hell check.
 */
public final class ClasspathNode extends Node {
    static final String[] MODULES = {
        "org.opensearch.transport.Netty4Plugin", // HTTP and node-to-node transport
        "org.opensearch.analysis.common.CommonAnalysisPlugin", // stemmer, asciifolding, pattern_replace
        "org.opensearch.painless.PainlessPlugin", // scripts; the k-NN plugin extends it
        "org.opensearch.index.mapper.MapperExtrasPlugin", // rank_feature, scaled_float, ...
    };

    private ClasspathNode(Environment environment, List<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: ClasspathNode HOME [PLUGIN_CLASS...]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Settings initial = Settings.builder().put("path.home", home.toString()).build();
        Environment environment =
            InternalSettingsPreparer.prepareEnvironment(initial, Map.of(), home.resolve("config"), () -> "node");
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment);

        List<String> names = new ArrayList<>(List.of(MODULES));
        names.addAll(List.of(args).subList(1, args.length));
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String name : names) {
            plugins.add(Class.forName(name).asSubclass(Plugin.class));
        }

        Node node = new ClasspathNode(environment, plugins);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "node-shutdown"));
        node.start();
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() != -1) {
                    // the launcher writes nothing: only the end of the pipe matters
                }
            } catch (java.io.IOException e) {
                // a broken pipe means the launcher is gone too
            }
            System.exit(0);
        }, "stdin-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        stopped.await();
    }
}
