using System.Net;
using System.Net.NetworkInformation;
using System.Threading.Tasks;

namespace IcmpTools.Bench.Windows
{
    /// <summary>
    /// The best a scripter gets on Windows without IcmpTools: every target's Ping.SendPingAsync started at
    /// once (one Ping per target, since a Ping runs one request at a time), then all awaited.
    /// </summary>
    public static class PingFanout
    {
        /// <summary>Pings every target once; returns how many answered.</summary>
        public static int Sweep(string[] targets, int timeoutMs)
        {
            var buffer = new byte[32];
            var pings = new Ping[targets.Length];
            var sends = new Task<PingReply>[targets.Length];
            for (int i = 0; i < targets.Length; i++)
            {
                pings[i] = new Ping();
                sends[i] = pings[i].SendPingAsync(IPAddress.Parse(targets[i]), timeoutMs, buffer);
            }
            int alive = 0;
            for (int i = 0; i < sends.Length; i++)
            {
                try
                {
                    if (sends[i].GetAwaiter().GetResult().Status == IPStatus.Success)
                    {
                        alive++;
                    }
                }
                catch (PingException)
                {
                    // A send that failed locally is a dead target for a sweep, as it is for Test-Connection.
                }
                pings[i].Dispose();
            }
            return alive;
        }
    }
}
