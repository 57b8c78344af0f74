# value parsing: weights, thresholds, addresses, ports, fwmarks, masks, names of schedulers
c ipvsadm -A -t 10.0.0.1:80 -s rr
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -m -w 2147483647
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 2147483648
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.3:80 -m -w +5
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.4:80 -m -w ' 6'
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.5:80 -m -w 0x10
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.6:80 -m -w ''
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.7:80 -m -w '7 '
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.8:80 -m -w 99999999999999999999
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.9:80 -m -x 5 -y 5
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.10:80 -m -x 2147483647 -y 2147483647
c ipvsadm -a -t 10.0.0.1:80 -r 0.0.0.0:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 255.255.255.255:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 224.0.0.1:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 127.0.0.1:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -m -x 10 -y 20
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -m
c ipvsadm -e -t 10.0.0.1:80 -r 192.168.1.99:80 -m -x 10 -y 20
c ipvsadm -e -t 10.0.0.1:80 -r 192.168.1.99:80 -m -w -1
c ipvsadm -a -t 10.0.0.9:80 -r 192.168.1.1:80 -m -x 10 -y 20
c ipvsadm -E -t 10.0.0.9:80 -s nosuch
c ipvsadm -A -t 10.0.0.1:80 -s nosuch
c ipvsadm -A -t 10.0.0.2:80 -s none
c ipvsadm -A -t 10.0.0.3:80 -s abcdefghijklmnopqrstuvwxyz
c ipvsadm -A -t 10.0.0.4:80 -s rr --pe nosuch
c ipvsadm -A -t 10.0.0.5:80 -s rr -p 10 --pe sip
c ipvsadm -A -u 10.0.0.5:80 -s rr --pe sip
c ipvsadm -A -t 10.0.0.6:80 -s rr -p 10 -M 24
c ipvsadm -A -t 10.0.0.7:80 -s rr -p 10 -M 255.0.255.0
c ipvsadm -A -t 10.0.0.8:80 -s rr -p 10 -M bogus
c ipvsadm -A -t 10.0.0.9:80 -s rr -p 10 -M localhost
c ipvsadm -A -t 10.0.0.10:80 -s rr -p 10 -M 0
c ipvsadm -A -t [2001:db8::1]:80 -s rr -p 10 -M 0
c ipvsadm -A -t [2001:db8::2]:80 -s rr -p 10 -M 129
c ipvsadm -A -t [2001:db8::3]:80 -s rr -p 10 -M 64abc
c ipvsadm -A -t [2001:db8::4]:80 -s rr -p 10 -M ffff::
c ipvsadm -A -s rr -p 10 -M 64 -t [2001:db8::5]:80
c ipvsadm -A -s rr -p 10 -M 255.255.0.0 -t [2001:db8::6]:80
c ipvsadm -A -t [2001:db8::7]:80 -s rr -M 64
c ipvsadm -A -t [1.2.3.4]:80 -s rr
c ipvsadm -A -t [localhost]:81 -s rr
c ipvsadm -A -t [::1] -s rr
c ipvsadm -A -t [::2]x80 -s rr
c ipvsadm -A -t [::3 -s rr
c ipvsadm -A -t ::4 -s rr -p
c ipvsadm -A -t ::5:80 -s rr
c ipvsadm -A -t 10:80 -s rr
c ipvsadm -A -t 127.1:80 -s rr
c ipvsadm -A -t 0x7f000002:80 -s rr
c ipvsadm -A -t 010.0.0.1:80 -s rr
c ipvsadm -A -t 10.0.0.20:+80 -s rr
c ipvsadm -A -t 10.0.0.21:-0 -s rr -p
c ipvsadm -A -t 10.0.0.22:65536 -s rr
c ipvsadm -A -t 10.0.0.23: -s rr
c ipvsadm -A -t :80 -s rr
c ipvsadm -A -t 10 -s rr
c ipvsadm -A -t '' -s rr
c ipvsadm -A -t 10.0.0.24:0x50 -s rr
c ipvsadm -A -t '10.0.0.25 x:80' -s rr
c ipvsadm -A -t 10.0.0.256:80 -s rr
c ipvsadm -A -t 0.0.0.0:80 -s rr
c ipvsadm -A -t 224.0.0.1:80 -s rr
c ipvsadm -A -u 10.0.0.26:http -s rr
c ipvsadm -A -u 10.0.0.27:www -s rr
c ipvsadm -A --sctp-service 10.0.0.28:http -s rr
c ipvsadm -A -t 10.0.0.29:webcache -s rr
c ipvsadm -A -f 0 -s rr
c ipvsadm -A -f -1 -s rr
c ipvsadm -A -f 4294967296 -s rr
c ipvsadm -A -f abc -s rr
c ipvsadm -A -f 0x10 -s rr
c ipvsadm -A -f ' 12' -s rr
c ipvsadm -A -f 2147483648 -s rr
c ipvsadm -A -f 11 -6 -s rr -p 10 -M 64
c ipvsadm -A -f 12 -s rr -o
c ipvsadm -A -t 10.0.0.30:80 -s sh -b flag-3
c ipvsadm -A -t 10.0.0.31:80 -s rr -b ''
c ipvsadm -A -t 10.0.0.32:80 -s rr -b flag-1,
c ipvsadm -A -t 10.0.0.33:80 -s rr -b ,flag-2
c ipvsadm -A -t 10.0.0.34:80 -b flag-1 -s mh
c ipvsadm -A -t 10.0.0.35:80 -s SH -b sh-port
c ipvsadm -a -f 1 -r 2001:db8::1 -m
c ipvsadm -a -f 2147483648 -r 192.168.1.1 -m
c ipvsadm -a -f 11 -6 -r 192.168.1.1 -i
c ipvsadm -a -t 10.0.0.26:80 -r 10.1.1.1:http -m
c ipvsadm -a -r 10.1.1.1:http -m -t 10.0.0.26:80
c ipvsadm -a -r 10.1.1.2 -m -t 10.0.0.26:80
c ipvsadm -a -r 10.1.1.3 -i -t 10.0.0.26:80
c ipvsadm -a -t 10.0.0.26:80 -r [10.1.1.4]:99 -m
c ipvsadm -a -t 10.0.0.26:80 -r fe80::1 -i
c ipvsadm -a -t [2001:db8::5]:80 -r fe80::1 -m
c ipvsadm -a -t [2001:db8::5]:80 -r ::ffff:10.1.1.5 -m
c ipvsadm -a -t [2001:db8::5]:80 -r [::10.1.1.6]:80 -m
c ipvsadm -Ln
c ipvsadm -S -n
c ipvsadm -Ln --thresholds
