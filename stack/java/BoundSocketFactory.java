import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import org.apache.hadoop.conf.Configurable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.net.StandardSocketFactory;

/**
 * Hadoop RPC sockets bound to one local address (edtrack.rpc.bind.address) before they
 * connect.
 *
 * <p>On a stack of several nodes, each DataNode listens on its own loopback address, but
 * Linux sends its connections to the NameNode from 127.0.0.1 whatever address it listens
 * on. The NameNode records a DataNode at the address its connection comes from: every
 * DataNode would be 127.0.0.1 on the same port, and each registration would evict the
 * one before. Bound to its node's address, each DataNode registers as that node, as it
 * would from its own host.
 */
public class BoundSocketFactory extends StandardSocketFactory implements Configurable {
  public static final String ADDRESS = "edtrack.rpc.bind.address";

  private Configuration conf;
  private String address;

  @Override
  public void setConf(Configuration conf) {
    this.conf = conf;
    this.address = conf.getTrimmed(ADDRESS, "");
  }

  @Override
  public Configuration getConf() {
    return conf;
  }

  @Override
  public Socket createSocket() throws IOException {
    Socket socket = super.createSocket();
    if (address != null && !address.isEmpty()) {
      socket.bind(new InetSocketAddress(address, 0));
    }
    return socket;
  }
}
