/*
 * pvmig sweeper: a 512-byte MBR test guest for dirty-log tests under KVM.
 *
 * Why bare metal: the nested KVM on the pvmig hosts (kvm_pvm, shadow
 * paging, no VMX) cannot boot Linux, but runs a flat 32-bit protected-mode
 * guest.  This guest keeps dirtying a known set of pages in a pattern the
 * host can verify afterwards (guest/sweeper/abcheck.c), so a migration that
 * loses a dirty page shows up as a broken pattern on the destination.
 *
 * What it does (idea from QEMU's tests/migration/i386/a-b-bootblock.S,
 * code written anew):
 *   - real mode: read the RAM size from CMOS, enable A20, load a flat GDT;
 *   - 32-bit protected mode, no paging, interrupts off for good;
 *   - pass 0 zeroes the first byte of every page in [START, END), so the
 *     pattern does not depend on what the RAM held before (a reused
 *     memory-backend-file, SeaBIOS tables at the top of RAM);
 *   - RAM is split at MID = START + (END - START) / 2, rounded down to
 *     2 MiB (never below START): B = [START, MID) is the background
 *     region, R = [MID, END) is written only on command;
 *   - then forever: increment the first byte of every 4 KiB page of B;
 *     after each full B sweep bump the B counter in the marker and write
 *     'A' or 'B' (alternately) to COM1;
 *   - every 1024 pages of B (every 4 MiB-aligned address) and after each
 *     B sweep, poll COM2's LSR (one port read = one VM exit, hence not per
 *     page).  If a byte is ready, read it; on 'W' increment the first byte
 *     of every page of R once, then bump the R counter and write 'D' to
 *     COM1.  Other bytes are ignored.  The B sweep then resumes where it
 *     was, so B keeps its interrupted-sweep pattern.  The host sends 'W'
 *     on the chardev behind QEMU's second -serial (COM2, 0x2f8); with the
 *     FIFO off QEMU's UART takes the next byte only once RBR is read, so
 *     back-to-back 'W's are queued in the chardev, not lost.
 *
 * Marker at MARKER (0x9000, below START so it is never swept, and away
 * from the BIOS data areas and this code at 0x7c00):
 *   +0  "PVMIGSWP"   magic
 *   +8  u32 sweeps   completed B sweeps (pass 0 not counted)
 *   +12 u32 start    START
 *   +16 u32 end      END (exclusive)
 *   +20 u32 version  2 (1 = no R: the whole [START, END) swept as B)
 *   +24 u32 rsweeps  completed R sweeps
 *   +28 u32 mid      MID
 * The first magic word is cleared before pass 0 and the magic written
 * last, so a marker left in a reused RAM file never looks valid early.
 * Invariants the host checks, separately for B and for R: pages before
 * that region's sweep position hold (count+1) mod 256, pages from it on
 * hold count mod 256 (for R, all pages equal count except while an R
 * sweep is under way).
 *
 * END: CMOS 0x34/0x35 = RAM between 16 MiB and 4 GiB in 64 KiB units
 * (QEMU fills it from the below-4G RAM size), so END = 16 MiB + that,
 * i.e. the top of RAM below 4 GiB.  It is capped at 3 GiB so the sweep
 * never runs into the PCI hole, whatever the machine type puts there.  If
 * 0x34/0x35 read 0 (RAM <= 16 MiB) we use CMOS 0x30/0x31 (KiB above
 * 1 MiB) instead.  The whole of RAM above 1 MiB is ours: SeaBIOS's tables
 * there are never used again once we run.
 */

#define START     0x00100000
#define CAP       0xc0000000
#define MARKER    0x9000
#define COM1      0x3f8
#define COM2      0x2f8
#define POLL      0x400000		/* poll COM2 every 1024 pages of B */
#define PAGE      4096

	.code16
	.section .text
	.globl _start
_start:
	cli
	ljmp	$0, $1f			/* some BIOSes enter at 07c0:0000 */
1:	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %ss
	movw	$0x7c00, %sp

	/* END = 16 MiB + CMOS[0x35:0x34] * 64 KiB */
	movb	$0x35, %al
	call	cmos
	movb	%al, %ah
	movb	$0x34, %al
	call	cmos
	movzwl	%ax, %ebx
	shll	$16, %ebx
	jz	2f
	addl	$0x01000000, %ebx
	jnc	3f
	movl	$CAP, %ebx		/* wrapped: CMOS said ~4 GiB */
	jmp	3f
2:	/* <= 16 MiB: END = 1 MiB + CMOS[0x31:0x30] KiB */
	movb	$0x31, %al
	call	cmos
	movb	%al, %ah
	movb	$0x30, %al
	call	cmos
	movzwl	%ax, %ebx
	shll	$10, %ebx
	addl	$START, %ebx
3:	cmpl	$CAP, %ebx
	jbe	4f
	movl	$CAP, %ebx
4:	andl	$~(PAGE - 1), %ebx	/* whole pages only */

	/* fast A20 (port 0x92 bit 1); keep bit 0 clear, it resets the CPU */
	inb	$0x92, %al
	orb	$2, %al
	andb	$0xfe, %al
	outb	%al, $0x92

	lgdtl	gdt_desc
	movl	%cr0, %eax
	orb	$1, %al
	movl	%eax, %cr0
	ljmpl	$0x08, $pm32

cmos:	/* in: al = register (NMI stays enabled: bit 7 clear); out: al */
	outb	%al, $0x70
	inb	$0x71, %al
	ret

	.code32
pm32:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$0x7c00, %esp

	/* a marker left in a reused RAM file must not look valid before ours */
	movl	$0, MARKER

	/* MID = START + (END - START) / 2, rounded down to 2 MiB; >= START */
	movl	%ebx, %esi
	subl	$START, %esi
	shrl	$1, %esi
	addl	$START, %esi
	andl	$~(0x200000 - 1), %esi
	cmpl	$START, %esi
	jae	1f
	movl	$START, %esi		/* tiny RAM: B empty, R = everything */
1:
	/* COM2: 8N1 with DLAB clear, so COM2+0 reads RBR; the baud divisor
	 * is left as it is (the emulated UART delivers bytes regardless).
	 * IER is 0 from reset/SeaBIOS and we poll with interrupts off. */
	movw	$COM2 + 3, %dx
	movb	$0x03, %al
	outb	%al, %dx

	/* pass 0: first byte of every page := 0 */
	movl	$START, %eax
5:	movb	$0, (%eax)
	addl	$PAGE, %eax
	cmpl	%ebx, %eax
	jb	5b

	/* marker after pass 0 and magic last: once a host sees it, it is valid */
	movl	$MARKER, %edi
	movl	$0, 8(%edi)
	movl	$START, 12(%edi)
	movl	%ebx, 16(%edi)
	movl	$2, 20(%edi)
	movl	$0, 24(%edi)
	movl	%esi, 28(%edi)
	movl	$0x494d5650, (%edi)	/* "PVMI", magic last */
	movl	$0x50575347, 4(%edi)	/* "GSWP" */

	movb	$'A', %cl		/* next progress character */
sweep:	/* one sweep of B = [START, MID), polling COM2 every 4 MiB */
	movl	$START, %eax
6:	cmpl	%esi, %eax
	jae	8f
	incb	(%eax)
	addl	$PAGE, %eax
	testl	$(POLL - 1), %eax
	jnz	6b
	call	poll
	jmp	6b
8:	incl	MARKER + 8		/* after the sweep: pages all equal sweeps */
	movw	$COM1, %dx
	movb	%cl, %al
	outb	%al, %dx
	xorb	$('A' ^ 'B'), %cl
	call	poll			/* also once per sweep: B may be < 4 MiB */
	jmp	sweep

poll:	/* one COM2 byte if there is one; 'W': sweep R once, count, 'D' */
	pushl	%eax
	movw	$COM2 + 5, %dx		/* LSR */
	inb	%dx, %al
	testb	$1, %al			/* data ready */
	jz	9f
	movw	$COM2, %dx		/* RBR */
	inb	%dx, %al
	cmpb	$'W', %al
	jne	9f
	movl	%esi, %eax
7:	incb	(%eax)
	addl	$PAGE, %eax
	cmpl	%ebx, %eax
	jb	7b
	incl	MARKER + 24		/* after the sweep: R pages all equal rsweeps */
	movw	$COM1, %dx
	movb	$'D', %al
	outb	%al, %dx
9:	popl	%eax
	ret

	.p2align 3
gdt:	.quad	0			/* null */
	.quad	0x00cf9a000000ffff	/* 0x08: code, base 0, 4 GiB, 32-bit */
	.quad	0x00cf92000000ffff	/* 0x10: data, base 0, 4 GiB */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt

	.org	510
	.word	0xaa55
