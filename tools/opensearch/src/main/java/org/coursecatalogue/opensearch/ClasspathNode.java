package org.coursecatalogue.opensearch;

import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.Version;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.PluginInfo;

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
 * <p>Builds against OpenSearch 2.x (the default) and 3.x (Maven profile opensearch3, Java 21+).
 * Not a production launcher: no security manager, no bootstrap checks, no JAR hell check. Started
 * with its standard input at end of file, it stops at once: keep it open (the launcher's pipe).
 */
public final class ClasspathNode {
    /** The modules a distribution ships that the catalogue needs; each entry lists the class's
     *  names in 2.x and in 3.x (the first that exists is loaded). */
    static final String[][] MODULES = {
        {"org.opensearch.transport.Netty4Plugin", "org.opensearch.transport.Netty4ModulePlugin"}, // HTTP, transport
        {"org.opensearch.analysis.common.CommonAnalysisPlugin", // snowball, asciifolding, pattern_replace
            "org.opensearch.analysis.common.CommonAnalysisModulePlugin"},
        {"org.opensearch.painless.PainlessPlugin", "org.opensearch.painless.PainlessModulePlugin"}, // k-NN extends it
        {"org.opensearch.index.mapper.MapperExtrasPlugin", "org.opensearch.index.mapper.MapperExtrasModulePlugin"},
    };

    private ClasspathNode() {}

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

        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String[] names : MODULES) {
            plugins.add(firstClass(names));
        }
        for (String name : List.of(args).subList(1, args.length)) {
            plugins.add(Class.forName(name).asSubclass(Plugin.class));
        }

        Node node = newNode(environment, plugins);
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

    private static Class<? extends Plugin> firstClass(String[] names) throws ClassNotFoundException {
        for (String name : names) {
            try {
                return Class.forName(name).asSubclass(Plugin.class);
            } catch (ClassNotFoundException e) {
                // the other version's name
            }
        }
        throw new ClassNotFoundException(String.join(" or ", names));
    }

    /**
     * Node's protected constructor with classpath plugins: (Environment, Collection of plugin
     * classes, boolean) in 2.x, (Environment, Collection of PluginInfo, boolean) in 3.x. Both erase
     * to the same signature, so one reflective call serves both; the collection's element type
     * says which to pass. PluginInfo's fields are those the test framework's MockNode gives.
     */
    private static Node newNode(Environment environment, List<Class<? extends Plugin>> plugins) throws Exception {
        Constructor<Node> constructor =
            Node.class.getDeclaredConstructor(Environment.class, Collection.class, boolean.class);
        constructor.setAccessible(true);
        Type elements = ((ParameterizedType) constructor.getGenericParameterTypes()[1]).getActualTypeArguments()[0];
        Collection<?> arguments = plugins;
        if (elements == PluginInfo.class) {
            Constructor<PluginInfo> info = PluginInfo.class.getConstructor(String.class, String.class, String.class,
                Version.class, String.class, String.class, String.class, List.class, boolean.class);
            List<PluginInfo> infos = new ArrayList<>();
            for (Class<? extends Plugin> plugin : plugins) {
                infos.add(info.newInstance(plugin.getName(), "classpath plugin", "NA", Version.CURRENT,
                    Runtime.version().feature() + "", plugin.getName(), null, List.of(), false));
            }
            arguments = infos;
        }
        return constructor.newInstance(environment, arguments, true);
    }
}
