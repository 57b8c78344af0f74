# -c listings with real connections: persistence templates, names, --persistent-conn
net_setup
SPORT_BASE=600
c ipvsadm -A -t 10.0.0.150:80 -s rr -p 60
add_rs "-t 10.0.0.150:80" -m "1 1 1"
c seq_conns 2 10.0.0.150 80 vary
s 'ipvsadm -Lnc | sort'
s 'ipvsadm -Lc | sort'
s 'ipvsadm -Lnc --persistent-conn | sort'
c ipvsadm -Ln --persistent-conn
c ipvsadm -Ln -t 10.0.0.150:80
c ipvsadm -A -u 10.0.0.151:53 -s rr
c ipvsadm -a -u 10.0.0.151:53 -r 10.0.11.2:53 -m
s 'ip -n client route replace 10.0.0.151/32 via 10.0.1.1 dev c0 src 10.0.1.2; echo x | ip netns exec client timeout 2 /usr/bin/nc.openbsd -u -w 1 -s 10.0.1.2 -p 40700 10.0.0.151 53 >/dev/null 2>&1; echo sent'
s 'ipvsadm -Lnc | sort'
s 'ipvsadm -Lc | sort'
s 'head -1 /proc/net/ip_vs_conn'
