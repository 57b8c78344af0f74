# sync daemon edge cases
q ip link add sync0 type dummy
q ip link set sync0 multicast on
q ip link set sync0 up
q ip link add sync1 type dummy
q ip link set sync1 mtu 9000
q ip link set sync1 up
c ipvsadm --start-daemon master --mcast-interface sync0
c ipvsadm --start-daemon master --mcast-interface nosuchif
c ipvsadm --start-daemon backup --mcast-interface lo
c ipvsadm -L --daemon
c ipvsadm --stop-daemon backup
c ipvsadm --start-daemon backup --mcast-interface sync1
c ipvsadm -L --daemon
c ipvsadm --stop-daemon backup
c ipvsadm --start-daemon backup --mcast-interface sync1 --sync-maxlen 65507 --mcast-group ff02::1
c ipvsadm -L --daemon
c ipvsadm --stop-daemon backup
c ipvsadm --stop-daemon master
c ipvsadm --start-daemon master --mcast-interface sync1 --sync-maxlen 65507
c ipvsadm --start-daemon master --mcast-interface sync1 --sync-maxlen 65508
c ipvsadm --start-daemon backup --mcast-interface sync0 --mcast-group 239.1.2.3 --mcast-port 65535 --mcast-ttl 255 --syncid 255
c ipvsadm -L --daemon
c ipvsadm -L -n --daemon --nosort
c ipvsadm --stop-daemon master --syncid 9
c ipvsadm --stop-daemon backup
c ipvsadm --start-daemon master --mcast-interface sync0 --mcast-group ff02::zz
c ipvsadm --start-daemon master --mcast-interface sync0 --mcast-group 2001:db8::1
c ipvsadm --start-daemon master --mcast-interface sync0 --mcast-group 224.0.0
c ipvsadm --start-daemon master --mcast-interface sync0 --mcast-group bogus
c ipvsadm --start-daemon master --mcast-interface abcdefghijklmnopqrstuvwxyz
c ipvsadm --start-daemon master --mcast-interface ''
c ipvsadm --start-daemon Master --mcast-interface sync0
c ipvsadm --start-daemon master --syncid -1
c ipvsadm --start-daemon master --sync-maxlen 0
c ipvsadm --start-daemon master --mcast-port 65536
c ipvsadm -A -t 10.0.0.1:80 -s rr
c ipvsadm -a -t 10.0.0.1:80 -r 2001:db8::1 -i
c ipvsadm --start-daemon master --mcast-interface sync0
c ipvsadm -d -t 10.0.0.1:80 -r 2001:db8::1
c ipvsadm --start-daemon master --mcast-interface sync0
c ipvsadm -a -t 10.0.0.1:80 -r 2001:db8::1 -i
c ipvsadm -e -t 10.0.0.1:80 -r 2001:db8::1 -i
c ipvsadm -L -n
c ipvsadm --stop-daemon master
c ipvsadm -L --daemon
